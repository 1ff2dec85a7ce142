"""Trace datasets: problems, prompts and traces of one task, split by canonical problem hash.

A dataset folder holds ``train.parquet``, ``val.parquet`` and ``test.parquet`` (see `COLUMNS`) and
loads with ``datasets.load_dataset("parquet", data_files={...})`` or `load_split`. A problem's split
is a function of its canonical hash alone, so a test problem never appears in train, whatever the
seed, the size or the style of the dataset that holds it.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from arborlab.errors import ArborError
from arborlab.io import atomic_directory, writable_parent
from arborlab.progress import progress_bar
from arborlab.tasks import get_task
from arborlab.tasks.base import problem_rng
from arborlab.text import extract_answer, split_steps

SPLITS = ("train", "val", "test")
#: split shares in thousandths of the hash space: train 80%, val 10%, test 10%
SPLIT_BOUNDS = (800, 900, 1000)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("task", pa.string()),
        ("difficulty", pa.string()),
        ("problem", pa.string()),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("answer", pa.string()),
        ("style", pa.string()),
        ("order", pa.string()),
        ("solvable", pa.bool_()),
        ("n_steps", pa.int32()),
        ("problem_hash", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
CHUNK = 500  # problems per worker job


def split_of(problem_hash: str) -> str:
    """The split a problem belongs to, from the first 32 bits of its hex hash."""
    slot = int(problem_hash[:8], 16) % 1000
    return next(name for name, bound in zip(SPLITS, SPLIT_BOUNDS) if slot < bound)


def _rows_for(job: tuple[str, int, int, Mapping[str, Any], str, str, bool, int]) -> list[dict]:
    """Rows for problems [first, first + count) of one seed; run in worker processes."""
    task_name, seed, first, difficulty, style, order, solvable, count = job
    task = get_task(task_name)
    difficulty_json = json.dumps(difficulty, sort_keys=True)
    rows = []
    for index in range(first, first + count):
        problem = task.generate(problem_rng(task_name, seed, index), difficulty, solvable)
        digest = task.problem_hash(problem)
        completion = task.trace(problem, style, order)
        rows.append(
            {
                "id": f"{task_name}-{digest[:16]}",
                "task": task_name,
                "difficulty": difficulty_json,
                "problem": json.dumps(problem, sort_keys=True),
                "prompt": task.prompt(problem),
                "completion": completion,
                "answer": extract_answer(completion),
                "style": style,
                "order": order if style == "search" else "",
                "solvable": solvable,
                "n_steps": len(split_steps(completion)),
                "problem_hash": digest,
            }
        )
    return rows


def generate_rows(
    task_name: str,
    n: int,
    style: str = "search",
    seed: int = 0,
    difficulty: Mapping[str, Any] | None = None,
    order: str = "dfs",
    solvable: bool = True,
    workers: int | None = None,
    show_progress: bool = True,
) -> Iterator[dict]:
    """`n` rows of distinct problems (by canonical hash), in a seed-determined order.

    Problems are drawn by index; duplicates are skipped, so the result does not depend on
    `workers`. Raises ArborError when the knobs allow fewer than `n` distinct problems.
    """
    task = get_task(task_name)
    task.check_trace_style(style, order)
    if n < 1:
        raise ArborError(f"--n must be at least 1, got {n}.")
    chosen = task.difficulty(difficulty)
    task.generate(problem_rng(task_name, seed, 0), chosen, solvable)  # fail fast on impossible knobs
    workers = workers or min(os.cpu_count() or 1, 8)
    max_draws = 20 * n + 1000
    seen: set[str] = set()
    jobs = ((task_name, seed, first, chosen, style, order, solvable, CHUNK) for first in range(0, max_draws, CHUNK))
    with progress_bar(f"{task_name} {style} traces", total=n, enabled=show_progress, unit="problems") as advance:
        pool = ProcessPoolExecutor(workers) if workers > 1 else None
        try:
            batches = pool.map(_rows_for, jobs) if pool else map(_rows_for, jobs)
            for batch in batches:
                for row in batch:
                    if row["problem_hash"] in seen:
                        continue
                    seen.add(row["problem_hash"])
                    advance(1)
                    yield row
                    if len(seen) == n:
                        return
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
    raise ArborError(
        f"only {len(seen)} distinct {task_name} problems were found in {max_draws} draws, fewer than --n {n}; "
        "ask for fewer or make the difficulty knobs allow more problems."
    )


def make_dataset(
    task_name: str,
    n: int,
    style: str,
    out: Path | str,
    seed: int = 0,
    difficulty: Mapping[str, Any] | None = None,
    order: str = "dfs",
    solvable: bool = True,
    overwrite: bool = False,
    workers: int | None = None,
    show_progress: bool = True,
) -> dict[str, int]:
    """Write train/val/test Parquet files of `n` distinct problems into `out`; returns row counts.

    The folder appears whole or not at all (written under a temporary name, then renamed).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise ArborError(f"the output folder {out} already exists; pass --overwrite to replace it.")
    writable_parent(out)  # fail before the work, not after it
    by_split: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for row in generate_rows(task_name, n, style, seed, difficulty, order, solvable, workers, show_progress):
        by_split[split_of(row["problem_hash"])].append(row)
    with atomic_directory(out, overwrite) as staging:
        for name, rows in by_split.items():
            table = pa.Table.from_pylist(rows, schema=SCHEMA)
            pq.write_table(table, staging / f"{name}.parquet", compression="zstd")
    return {name: len(rows) for name, rows in by_split.items()}


def load_split(folder: Path | str, split: str = "train"):
    """One split of a dataset folder as a `datasets.Dataset`."""
    import datasets

    path = Path(folder) / f"{split}.parquet"
    if not path.is_file():
        raise ArborError(f"{path} does not exist; make it with 'arbor tasks make-dataset'.")
    return datasets.load_dataset("parquet", data_files={split: str(path)}, split=split)
