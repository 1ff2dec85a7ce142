"""Evaluation: accuracy, unbiased pass@k and maj@k, by difficulty, through the task's verifier.

pass@k is the Chen et al. (2021) estimator: with n samples of which c are correct, the chance that
a random k-subset holds at least one correct sample, ``1 - C(n-c, k) / C(n, k)``, computed as the
product ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` so it never forms huge binomials.
maj@k is the chance that the plurality answer of a random k-subset is correct (ties split evenly),
with answers grouped by the task's `answer_key` (countdown: the expression's value).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow.parquet as pq

from arborlab.data import generate_rows
from arborlab.errors import ArborError
from arborlab.io import atomic_directory
from arborlab.journal import Journal, journal_beside
from arborlab.tasks import Task, get_task
from arborlab.text import answer_text

EXACT_SUBSETS = 20_000  # maj@k enumerates every k-subset up to this many, else samples this many


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, numerically stable form)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def maj_at_k(keys: Sequence[str], correct: Sequence[bool], k: int, seed: int = 0) -> float:
    """Expected correctness of the plurality answer among k of the samples (ties split evenly).

    `keys[i]` groups sample i's answer with equivalent ones; `correct[i]` is its verdict.
    """
    n = len(keys)
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n, got n={n}, k={k}")
    correct_keys = {key for key, ok in zip(keys, correct) if ok}
    if comb(n, k) <= EXACT_SUBSETS:
        subsets = combinations(range(n), k)
        total = comb(n, k)
    else:
        rng = random.Random(seed)
        subsets = (rng.sample(range(n), k) for _ in range(EXACT_SUBSETS))
        total = EXACT_SUBSETS
    score = 0.0
    for subset in subsets:
        votes = Counter(keys[i] for i in subset)
        top = max(votes.values())
        leaders = [key for key, count in votes.items() if count == top]
        score += sum(key in correct_keys for key in leaders) / len(leaders)
    return score / total


def summarize(task: Task, problems: list[dict], answers: list[list[str]], ks: Sequence[int] = (1,)) -> dict[str, Any]:
    """Accuracy (mean sample correctness), pass@k and maj@k over problems, overall and by difficulty.

    `answers[i]` are the sampled completions (or answers) for `problems[i]`; `problems[i]` carries
    its own fields and, under "difficulty", the knobs it was drawn with (any JSON, used as a group).
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    per_problem = []
    for problem, completions in zip(problems, answers):
        fields = problem["problem"]
        verdicts = [task.verify(fields, completion).correct for completion in completions]
        keys = [task.answer_key(fields, answer_text(completion)) for completion in completions]
        n, c = len(verdicts), sum(verdicts)
        row = {
            "accuracy": c / n,
            **{f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n},
            **{f"maj@{k}": maj_at_k(keys, verdicts, k) for k in ks if k <= n},
        }
        per_problem.append(row)
        groups[json.dumps(problem.get("difficulty", {}), sort_keys=True)].append(row)
    return {
        "n": len(per_problem),
        **_mean_rows(per_problem),
        "by_difficulty": {group: {"n": len(rows), **_mean_rows(rows)} for group, rows in groups.items()},
    }


def _mean_rows(rows: list[dict]) -> dict[str, float]:
    return {name: sum(r[name] for r in rows) / len(rows) for name in rows[0]} if rows else {}


def evaluate_rows(
    model,
    tokenizer,
    task_name: str,
    rows: list[dict],
    samples: int = 1,
    temperature: float = 0.0,
    ks: Sequence[int] = (1,),
    max_new_tokens: int = 512,
    seed: int = 0,
    show_progress: bool = False,
    journal: Journal | None = None,
    journal_key: str = "",
) -> dict[str, Any]:
    """Sample completions for dataset rows (columns `problem`, `prompt`, `difficulty`) and grade them.

    Returns `summarize`'s figures plus `predictions`: one ``{"problem", "answer", "completion"}`` per
    sample (the input format of ``arbor tasks score``, with the whole completion beside it).
    `journal`, `journal_key`: see `arborlab.completions.complete`.
    """
    from arborlab.completions import complete

    task = get_task(task_name)
    sampled = complete(
        model, tokenizer, [r["prompt"] for r in rows], samples, temperature, max_new_tokens, seed=seed, show_progress=show_progress,
        journal=journal, journal_key=journal_key,
    )
    completions = [[c.text for c in per_prompt] for per_prompt in sampled]
    problems = [{"problem": json.loads(r["problem"]), "difficulty": json.loads(r["difficulty"])} for r in rows]
    report = summarize(task, problems, completions, ks)
    report["predictions"] = [
        {"problem": p["problem"], "answer": answer_text(c), "completion": c} for p, cs in zip(problems, completions) for c in cs
    ]
    return report


def held_out_rows(model_dir: Path, task_name: str, n: int, data: Path | None, split: str, difficulty: dict, seed: int) -> list[dict]:
    """Problems to evaluate: a dataset split (given, or the model's own run's), else fresh ones."""
    if data is None and (Path(model_dir).parent / "data" / f"{split}.parquet").is_file():
        data = Path(model_dir).parent / "data"
    if data is not None:
        path = Path(data) / f"{split}.parquet"
        if not path.is_file():
            raise ArborError(f"{path} does not exist; choose --split train, val or test of a dataset folder.")
        rows = pq.read_table(path).to_pylist()
        if rows and rows[0]["task"] != task_name:
            raise ArborError(f"{data} holds {rows[0]['task']} problems, not {task_name}.")
        return rows[:n]
    return list(generate_rows(task_name, n, "direct", seed, difficulty, show_progress=False))


def run_eval(
    model_dir: Path | str,
    task_name: str,
    n_problems: int,
    samples: int,
    ks: Sequence[int],
    temperature: float | None,
    data: Path | None,
    split: str,
    difficulty: dict,
    max_new_tokens: int,
    out: Path | None,
    seed: int = 0,
    baseline: Path | str | None = None,
) -> dict[str, Any]:
    """`arbor eval`: grade samples of a model on held-out problems; writes eval.json, predictions, plot.

    `baseline` is a second model folder (e.g. the model before RL) graded on the same problems with
    the same samples and seed: its figures go in eval.json under ``"baseline"``, its predictions in
    baseline_predictions.jsonl, and both pass@k curves in one plot.
    """
    from arborlab.models import check_model_folder, load_model

    if samples < 1 or n_problems < 1:
        raise ArborError("--samples and --problems must be at least 1.")
    if max(ks) > samples:
        raise ArborError(f"pass@{max(ks)} needs at least {max(ks)} samples per problem; raise --samples.")
    get_task(task_name)
    folders = {"model": Path(model_dir)} | ({"baseline": Path(baseline)} if baseline is not None else {})
    for folder in folders.values():  # a bad baseline fails before the first model loads
        check_model_folder(folder)
    models = {label: load_model(folder) for label, folder in folders.items()}
    for label, (_, tokenizer) in models.items():
        if tokenizer is None:
            raise ArborError(f"{folders[label]} has no tokenizer; save one beside the model.")
    rows = held_out_rows(Path(model_dir), task_name, n_problems, data, split, difficulty, seed)
    temperature = (0.0 if samples == 1 else 1.0) if temperature is None else temperature
    out = Path(out) if out else Path(model_dir).parent / f"eval-{task_name}-{split}"
    # An interrupted eval resumes: OUT.partial journals each sampled batch (other settings start afresh).
    journal = Journal(journal_beside(out), discard=True, settings=dict(
        models={label: str(folder.resolve()) for label, folder in folders.items()}, task=task_name,
        problems=[r["problem"] for r in rows], samples=samples, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed))
    reports = {
        label: evaluate_rows(model, tokenizer, task_name, rows, samples, temperature, ks, max_new_tokens, seed, show_progress=True,
                             journal=journal, journal_key=f"{label} ")
        for label, (model, tokenizer) in models.items()
    }
    report = reports["model"]
    predictions = {label: figures.pop("predictions") for label, figures in reports.items()}
    report.update(model_dir=str(model_dir), task=task_name, samples=samples, temperature=temperature, out=str(out))
    if baseline is not None:
        report["baseline"] = {"model_dir": str(baseline), **reports["baseline"]}
    with atomic_directory(out, overwrite=True) as staging:
        (staging / "eval.json").write_text(json.dumps(report, indent=2))
        for label, rows_out in predictions.items():
            name = "predictions.jsonl" if label == "model" else f"{label}_predictions.jsonl"
            (staging / name).write_text("".join(json.dumps(p) + "\n" for p in rows_out))
        labels = {label: folder.name for label, folder in folders.items()}  # curves named by folder
        if "baseline" in labels:
            if labels["baseline"] == labels["model"]:
                labels["model"] = str(model_dir)
            labels["baseline"] += " (baseline)"
        plot_pass_at_k({labels[label]: reports[label] for label in reports}, staging / "pass_at_k.png")
    journal.finish()
    return report


def plot_pass_at_k(reports: dict[str, dict], path: Path) -> Path:
    """pass@k (solid) and maj@k (dashed) against k, one color per labelled report."""
    from arborlab.report import plt, save_figure

    figure, axis = plt.subplots(figsize=(6, 3.8))
    for label, report in reports.items():
        for metric, style in (("pass", "-"), ("maj", "--")):
            ks = sorted(int(name.split("@")[1]) for name in report if name.startswith(f"{metric}@"))
            if ks:
                axis.plot(ks, [report[f"{metric}@{k}"] for k in ks], style, marker="o", label=f"{label} {metric}@k")
    axis.set(xscale="log", xlabel="k (samples)", ylabel="share of problems solved", ylim=(0, 1.02))
    axis.legend(fontsize=8)
    return save_figure(figure, path)
