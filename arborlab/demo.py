"""`arbor demo`: the whole path on one task, on embedded defaults.

Makes a dataset of search traces, trains a toy model on them from scratch, evaluates it greedily on
held-out problems (held out by canonical problem hash) through the task's verifier, shows one of the
model's own traces with its search and backtracking checked step by step, and writes the report and
``summary.json``. Every figure it prints is computed in the run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from arborlab.io import atomic_file
from arborlab.render import render_trace
from arborlab.runs import RunFolder
from arborlab.score import score_lines, tally_wrong
from arborlab.tasks import get_task
from arborlab.text import split_steps
from arborlab.train.sft import SFTConfig, train_or_resume

#: the embedded defaults: countdown with 3 numbers, stream-of-search traces, a 1M-parameter Llama
DEMO = dict(
    task="countdown",
    style="search",
    # plain depth-first: dfs-bounded (no result above 999 unless needed) removed the derailing
    # multi-token products but was no better over seeds: 80.8% (fresh-clone demo, 5,593 steps) and
    # 78.4% at seed 0, 89.4% at seed 1, against dfs's 83.4-86.8% at seed 0 and 82.2% at seed 1.
    # With Muon and harmonic circles, at a fixed 4,500 steps: dfs 93.6%, dfs-bounded 91.6%,
    # dfs-pruned 85.6% (its model writes the target as a wrong sum or difference: dead-end last
    # steps are what teach it to compute the last step rather than copy the target), and
    # dfs-pruned-products (only the products pruned) 92.0%
    order="dfs",
    difficulty={"n_numbers": 3},
    n_problems=40_000,
    # 1.0M parameters (4 layers of width 128): at a fixed 13 minutes, 2.4x the updates of the 3m
    # preset beat its extra capacity (76% against 57% held out; 6 layers of width 128: 67%)
    preset="1m",
    # number embeddings start by spelling their digits and sitting on circles of period 10, 100 and
    # 1000, where adding is rotating: sums 96% right teacher-forced against 72% with digits alone
    # with the units digit's harmonics (periods 2, 2.5 and 5) too: 93.6% against 91.4% at a fixed
    # 4,500 Muon steps, loss 0.068 against 0.097 over the last thousand
    number_init="fourier-harmonics",
    # Muon on the hidden matrices: 91.4% at a fixed 4,500 steps (lr 3e-3 and 6e-3 alike) where
    # AdamW reached 83.4% at 5,300, for about 17% more time a step
    optimizer="muon",
    batch_size=12,  # small batches: at this budget the number of updates limits learning
    learning_rate=3e-3,  # 4e-3 learned slower (val 38% against 54% at step 2,200)
    warmup_steps=100,
    # 13.6 minutes of training, whatever the machine's pace: the timed warmup fixes the number of
    # steps (3,300-5,500 on 2 cores here, by the day). Data, evaluations and the report take the
    # other 50 s or so (52 s on a slow day with 780 s of training: 832 s in all)
    time_budget=815,
    max_steps=5300,  # until the warmup has been timed
    eval_every=1000,
    eval_problems=50,
    final_eval_problems=500,
    checkpoint_every=400,
    max_length=640,  # the longest 1% of search traces are left out of training
    # long searches (about 7% of the traces: those whose first branches all fail) three times an
    # epoch. They held most of the errors: 10 of 35 long test problems right against 459 of 465
    # others. At a fixed 4,500 steps: 95.8% against 93.6% (long ones 19 of 35). At the baseline's
    # 4,500 steps' worth of tokens (6.7M; ~3,340 steps): 97.0% with three repeats, 94.6% with two
    long_example_tokens=215,
    long_example_repeats=3,
    max_new_tokens=640,
)
#: `--quick` (what the tests run): the same path on a tiny model, in well under a minute
QUICK = dict(
    DEMO,
    n_problems=600,
    model={"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2},
    time_budget=0.0,  # a fixed number of steps: the tests check them
    max_steps=40,
    warmup_steps=5,
    eval_every=20,
    eval_problems=10,
    final_eval_problems=30,
    checkpoint_every=20,
    max_new_tokens=160,
)


def demo_config(task_name: str, quick: bool, seed: int) -> SFTConfig:
    settings = dict(QUICK if quick else DEMO, seed=seed)
    if task_name != DEMO["task"]:
        settings.update(task=task_name, difficulty={})
    return SFTConfig(**settings)


def run_demo(task_name: str, out: Path, quick: bool = False, seed: int = 0, console: Console | None = None) -> dict:
    """Run the demo into the run folder `out` (resuming it if it was interrupted); returns the summary."""
    console = console or Console()
    started = time.perf_counter()
    config = demo_config(task_name, quick, seed)
    task = get_task(config.task)
    run = RunFolder(out)
    console.rule(f"[bold]arborlab demo: {config.task}, {config.style} traces, preset {config.preset}")
    result = train_or_resume(config, out)

    predictions = [json.loads(line) for line in Path(result["predictions"]).read_text().splitlines()]
    shown = _pick_trace(task, predictions)
    if shown is not None:
        console.print(render_trace(task, shown["problem"], shown["completion"], title="one of the model's own traces"))
    summary = {
        "task": config.task,
        "difficulty": config.difficulty,
        "style": config.style,
        "preset": config.preset,
        "heldout_accuracy": result["test_accuracy"],
        "n_heldout": result["test_n"],
        "total_seconds": round(time.perf_counter() - started, 1),
        "model_dir": str(run.final),
        "predictions": result["predictions"],
        "report": str(run.path / "report.html"),
        # where the wrong answers went wrong: their first invalid step's kind (`arbor tasks score --summary`)
        "wrong_answers": _wrong_answers(task, result["predictions"]),
    }
    with atomic_file(run.path / "summary.json") as stream:
        json.dump(summary, stream, indent=2)
    console.print(_summary_table(summary))
    console.print(f"report: {summary['report']}\nsummary: {run.path / 'summary.json'}")
    return summary


def _wrong_answers(task, predictions: str) -> dict[str, int]:
    """The held-out wrong answers counted by the kind of their first invalid step."""
    with open(predictions, encoding="utf-8") as stream:
        return tally_wrong(score_lines(task, stream))["first_invalid"]


def _pick_trace(task, predictions: list[dict]) -> dict | None:
    """A correct prediction that backtracks with every step valid (else one that backtracks, else
    any correct one, else the first)."""
    correct = [p for p in predictions if task.verify(p["problem"], p["completion"]).correct]
    backtracking = [p for p in correct if "back to" in p["completion"]]
    clean = [p for p in backtracking if all(c.valid for c in task.check_steps(p["problem"], split_steps(p["completion"])))]
    return next(iter(clean or backtracking or correct or predictions), None)


def _summary_table(summary: dict) -> Table:
    table = Table(title="arborlab demo (measured in this run)")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("held-out greedy accuracy", f"{summary['heldout_accuracy']:.1%} of {summary['n_heldout']} problems")
    if summary["wrong_answers"]:
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary["wrong_answers"].items())
        table.add_row("wrong answers by first invalid step", kinds)
    table.add_row("total time", f"{summary['total_seconds']:.0f} s")
    table.add_row("model", summary["model_dir"])
    return table
