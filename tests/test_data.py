"""Trace datasets: determinism, split disjointness by canonical hash, loading, safe writing."""

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from arborlab.data import COLUMNS, SPLITS, generate_rows, load_split, make_dataset, split_of
from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import extract_answer, split_steps


def _digest(folder):
    return {name: hashlib.sha256((folder / f"{name}.parquet").read_bytes()).hexdigest() for name in SPLITS}


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path):
    make_dataset("countdown", 300, "search", tmp_path / "a", seed=7, workers=1, show_progress=False)
    make_dataset("countdown", 300, "search", tmp_path / "b", seed=7, workers=2, show_progress=False)
    make_dataset("countdown", 300, "search", tmp_path / "c", seed=8, workers=1, show_progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_columns_rows_and_split_disjointness_across_seeds(tmp_path):
    task = get_task("countdown")
    hashes = {name: set() for name in SPLITS}
    small = {"n_numbers": 3, "max_number": 12, "min_target": 1, "max_target": 30}  # a small space: seeds overlap
    for seed in (1, 2):
        folder = tmp_path / f"seed{seed}"
        counts = make_dataset("countdown", 400, "cot", folder, seed=seed, difficulty=small, show_progress=False)
        assert sum(counts.values()) == 400
        for name in SPLITS:
            table = pq.read_table(folder / f"{name}.parquet").to_pylist()
            assert len(table) == counts[name]
            for row in table:
                assert tuple(row) == COLUMNS
                problem = json.loads(row["problem"])
                assert row["problem_hash"] == task.problem_hash(problem)
                assert split_of(row["problem_hash"]) == name
                assert row["prompt"] == task.prompt(problem)
                assert row["answer"] == extract_answer(row["completion"])
                assert task.verify(problem, row["answer"]).correct
                assert row["n_steps"] == len(split_steps(row["completion"]))
                assert json.loads(row["difficulty"])["max_number"] == 12
                hashes[name].add(row["problem_hash"])
    assert not hashes["train"] & hashes["test"] and not hashes["train"] & hashes["val"] and not hashes["val"] & hashes["test"]
    # the two seeds share problems (fewer distinct train hashes than rows), each in the same split both times
    assert len(hashes["train"]) < 2 * 400 * 0.8


def test_split_shares_are_near_80_10_10():
    rows = list(generate_rows("countdown", 4000, "direct", seed=3, workers=1, show_progress=False))
    shares = {name: sum(split_of(r["problem_hash"]) == name for r in rows) / len(rows) for name in SPLITS}
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["val"] - 0.1) < 0.02 and abs(shares["test"] - 0.1) < 0.02
    assert len({r["problem_hash"] for r in rows}) == 4000


def test_loads_with_datasets(tmp_path):
    make_dataset("countdown", 200, "search", tmp_path / "d", order="best-first", show_progress=False)
    import datasets

    files = {name: str(tmp_path / "d" / f"{name}.parquet") for name in SPLITS}
    loaded = datasets.load_dataset("parquet", data_files=files)
    assert sum(len(loaded[name]) for name in SPLITS) == 200
    assert loaded["train"][0]["order"] == "best-first"
    assert len(load_split(tmp_path / "d", "test")) == len(loaded["test"])


def test_existing_folder_is_refused_then_replaced_whole(tmp_path):
    out = tmp_path / "d"
    make_dataset("countdown", 50, "cot", out, show_progress=False)
    before = _digest(out)
    with pytest.raises(ArborError, match="already exists; pass --overwrite"):
        make_dataset("countdown", 60, "cot", out, show_progress=False)
    assert _digest(out) == before
    make_dataset("countdown", 60, "cot", out, overwrite=True, show_progress=False)
    assert sum(pq.read_metadata(out / f"{n}.parquet").num_rows for n in SPLITS) == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temporary folders left behind


def test_failure_midway_leaves_nothing_half_written(tmp_path):
    with pytest.raises(ArborError, match="distinct countdown problems"):
        make_dataset("countdown", 200, "cot", tmp_path / "d", difficulty={"n_numbers": 2, "max_number": 3, "min_target": 1}, show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_style_and_order_are_one_sentence(tmp_path):
    with pytest.raises(ArborError, match="trace style must be one of"):
        make_dataset("countdown", 5, "verbose", tmp_path / "x", show_progress=False)
    with pytest.raises(ArborError, match="orders dfs, bfs, best-first"):
        make_dataset("countdown", 5, "search", tmp_path / "x", order="random", show_progress=False)
