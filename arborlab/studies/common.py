"""What the studies share: training (or resuming) one SFT run and grading a model on given rows."""

from __future__ import annotations

import json
import time
from pathlib import Path

from arborlab.evaluate import evaluate_rows
from arborlab.models import load_model
from arborlab.runs import RunFolder
from arborlab.train.sft import SFTConfig, train_or_resume


def trained_model(config: SFTConfig, folder: Path, show_progress: bool = True) -> dict:
    """Train `config` into `folder` (resuming an interrupted run; reusing a finished one).

    Returns the run's final test figures plus ``train_tokens``, ``train_steps`` and ``train_seconds``
    (wall clock of the training loop, from its metrics), kept in ``folder/result.json``.
    """
    done = folder / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    started = time.perf_counter()
    result = train_or_resume(config, folder, show_progress=show_progress)
    metrics = RunFolder(folder).read_metrics()
    steps = [m for m in metrics if "tokens" in m]
    result.update(
        train_tokens=sum(m["tokens"] for m in steps),
        train_steps=max((m["step"] for m in steps), default=0),
        train_seconds=round(sum(m["seconds"] for m in steps), 1),
        wall_seconds=round(time.perf_counter() - started, 1),
    )
    result.pop("predictions", None)
    done.write_text(json.dumps(result, indent=2))
    return result


def accuracy_on(folder: Path, task_name: str, rows: list[dict], max_new_tokens: int) -> float:
    """Greedy accuracy of the run's final model on dataset `rows` (graded by the task's verifier)."""
    model, tokenizer = load_model(folder / "final")
    return evaluate_rows(model, tokenizer, task_name, rows, max_new_tokens=max_new_tokens, show_progress=True)["accuracy"]
