"""`arbor demo`: the whole path on one task, on embedded defaults.

Today the path covers the task stage: make a trace dataset, show a problem solved three ways with
every step checked, and grade the dataset's traces and deliberately corrupted answers with the
exact verifier. Every figure it prints is computed in the run; `summary.json` records them.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from arborlab.data import SPLITS, make_dataset
from arborlab.io import atomic_file
from arborlab.render import render_trace
from arborlab.tasks import get_task
from arborlab.text import split_steps

DEFAULTS = {"task": "countdown", "difficulty": {"n_numbers": 3}, "style": "search", "order": "dfs"}


def run_demo(task_name: str, out: Path, quick: bool = False, seed: int = 0, console: Console | None = None) -> dict:
    """Run the demo into the run folder `out`; returns the summary it writes to summary.json."""
    console = console or Console()
    started = time.perf_counter()
    task = get_task(task_name)
    difficulty = DEFAULTS["difficulty"] if task_name == DEFAULTS["task"] else {}
    n_problems = 300 if quick else 3000
    console.rule(f"[bold]arborlab demo: {task_name}")

    data_dir = out / "data"
    counts = make_dataset(task_name, n_problems, DEFAULTS["style"], data_dir, seed, difficulty, DEFAULTS["order"], overwrite=True)
    console.print(f"dataset: {data_dir} ({', '.join(f'{s} {c}' for s, c in counts.items())})")

    problem = next(task.problems(1, seed=seed + 1, difficulty=difficulty))
    for style in ("direct", "cot", "search"):
        console.print(render_trace(task, problem, task.trace(problem, style, DEFAULTS["order"]), title=f"{style} trace"))

    rows = [row for split in SPLITS for row in pq.read_table(data_dir / f"{split}.parquet").to_pylist()]
    grading = _grade(task, rows, random.Random(seed))
    console.print(_grading_table(grading))

    summary = {
        "task": task_name,
        "difficulty": task.difficulty(difficulty),
        "style": DEFAULTS["style"],
        "order": DEFAULTS["order"],
        "dataset_dir": str(data_dir),
        "n_problems": sum(counts.values()),
        "split_counts": counts,
        **grading,
        "total_seconds": round(time.perf_counter() - started, 2),
    }
    with atomic_file(out / "summary.json") as stream:
        json.dump(summary, stream, indent=2)
    console.print(f"summary: {out / 'summary.json'}  ({summary['total_seconds']} s)")
    return summary


def _grade(task, rows: list[dict], rng: random.Random) -> dict:
    """Replay every trace through the step checker and grade true and corrupted answers."""
    correct = steps = dead_ends = invalid = 0
    for row in rows:
        problem = json.loads(row["problem"])
        correct += task.verify(problem, row["completion"]).correct
        checks = task.check_steps(problem, split_steps(row["completion"]))
        steps += len(checks)
        dead_ends += sum(c.valid and not c.solvable for c in checks)
        invalid += sum(not c.valid for c in checks)
    shuffled = [row["answer"] for row in rows]
    rng.shuffle(shuffled)
    wrongly_accepted = sum(
        task.verify(json.loads(row["problem"]), answer).correct and answer != row["answer"]
        for row, answer in zip(rows, shuffled)
    )
    return {
        "trace_accuracy": correct / len(rows),
        "mean_steps": steps / len(rows),
        "dead_end_share": dead_ends / max(steps, 1),
        "invalid_steps": invalid,
        "shuffled_answers_accepted": wrongly_accepted / len(rows),
    }


def _grading_table(grading: dict) -> Table:
    table = Table(title="exact grading of the dataset (computed now)")
    table.add_column("check")
    table.add_column("result", justify="right")
    table.add_row("traces whose answer verifies", f"{grading['trace_accuracy']:.1%}")
    table.add_row("mean steps per trace", f"{grading['mean_steps']:.1f}")
    table.add_row("steps inside dead ends", f"{grading['dead_end_share']:.1%}")
    table.add_row("steps the checker rejects", str(grading["invalid_steps"]))
    table.add_row("another problem's answer accepted", f"{grading['shuffled_answers_accepted']:.1%}")
    return table
