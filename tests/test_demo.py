"""`arbor demo --quick`: the main job end to end, with a summary whose figures are recomputed here."""

import json

import pyarrow.parquet as pq

from arborlab.demo import run_demo
from arborlab.tasks import get_task


def test_quick_demo_writes_a_summary_that_matches_its_data(tmp_path):
    summary = run_demo("countdown", tmp_path / "demo", quick=True)
    on_disk = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert on_disk == summary
    task = get_task("countdown")
    rows = [r for s in ("train", "val", "test") for r in pq.read_table(tmp_path / "demo" / "data" / f"{s}.parquet").to_pylist()]
    assert summary["n_problems"] == len(rows) == 300
    assert summary["trace_accuracy"] == sum(task.verify(json.loads(r["problem"]), r["answer"]).correct for r in rows) / 300
    assert summary["mean_steps"] == sum(r["n_steps"] for r in rows) / 300
    assert summary["invalid_steps"] == 0
