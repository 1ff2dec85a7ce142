"""Accuracy against test-time compute, by difficulty, for every strategy (Snell et al. 2024, figures 3-4).

`load_context` builds what ``arbor search`` runs; `grade` runs one strategy on problems and grades
each answer with the task's exact verifier; `run_scaling` is ``arbor scaling``:

1. Validation and test problems, split by canonical problem hash as datasets are (`arborlab.data`).
2. Difficulty bins as in Snell et al.: a problem's difficulty is the policy's own pass rate over
   `difficulty_samples` samples (graded by the task's verifier), and problems are cut into `bins`
   bins of equal size by that rate, bin 1 the easiest.
3. Every strategy at every budget on both splits; per (strategy, budget, bin) the accuracy and the
   mean compute per problem (generated tokens, policy + verifier FLOPs, seconds).
4. The compute-optimal line: at each budget, each difficulty bin takes the strategy with the best
   validation accuracy in that bin (fewer FLOPs on a tie); that choice is scored on test.

It writes ``scaling.json``, ``table.csv`` (one row per strategy and budget, with per-bin accuracy),
``scaling.png`` (accuracy against FLOPs, one panel per bin and one for all) and ``report.html``.
Until then ``OUT.partial`` journals the bins and each finished (strategy, budget) cell, so an
interrupted run, started again with the same settings, resumes (`arborlab.journal`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

from arborlab.data import split_of
from arborlab.errors import ArborError
from arborlab.io import atomic_directory
from arborlab.journal import Journal, journal_beside
from arborlab.progress import progress_bar
from arborlab.search.base import SearchConfig, SearchContext
from arborlab.search.budget import Budget
from arborlab.search.steps import Policy
from arborlab.search.strategies import STRATEGIES
from arborlab.search.verifiers import check_verifier, make_verifier
from arborlab.tasks import Problem, Task, get_task

COMPUTE_OPTIMAL = "compute-optimal"


def load_context(model_dir: Path | str, task_name: str, verifier: str, config: SearchConfig,
                 max_new_tokens: int = 256) -> SearchContext:
    """The policy in `model_dir`, the task and the verifier, ready for a strategy."""
    from arborlab.models import load_model

    config.check()
    check_verifier(verifier)
    task = get_task(task_name)
    model, tokenizer = load_model(model_dir)
    if tokenizer is None:
        raise ArborError(f"{model_dir} has no tokenizer; save one beside the model.")
    return SearchContext(Policy(model, tokenizer, max_new_tokens=max_new_tokens), make_verifier(verifier, task), task, config)


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise ArborError(f"unknown strategy '{name}'; choose one of {', '.join(STRATEGIES)}.")


def grade(context: SearchContext, strategy: str, problems: Sequence[Problem]) -> list[dict[str, Any]]:
    """Run `strategy` on `problems`; one row per problem with its answer, verdict and compute."""
    check_strategy(strategy)
    results = STRATEGIES[strategy](context, list(problems))
    rows = []
    for problem, result in zip(problems, results):
        rows.append({
            "problem": problem, "completion": result.completion, "score": result.score,
            "correct": context.task.verify(problem, result.completion).correct, **result.budget.as_dict(),
        })
    return rows


def problems_by_split(task: Task, counts: dict[str, int], seed: int, difficulty: dict) -> dict[str, list[Problem]]:
    """`counts[split]` distinct problems of each split ("train", "val", "test"), split by problem hash."""
    chosen: dict[str, list[Problem]] = {split: [] for split in counts}
    seen = set()
    wanted = sum(counts.values())
    for problem in task.problems(100 * wanted, seed, difficulty):
        digest = task.problem_hash(problem)
        split = split_of(digest)
        if digest in seen or split not in counts or len(chosen[split]) >= counts[split]:
            continue
        seen.add(digest)
        chosen[split].append(problem)
        if sum(map(len, chosen.values())) == wanted:
            return chosen
    raise ArborError(f"the difficulty allows too few distinct {task.name} problems for {wanted}; ask for fewer.")


def difficulty_bins(context: SearchContext, problems: Sequence[Problem], samples: int, bins: int) -> tuple[list[int], list[float]]:
    """Each problem's bin (0 = easiest) by the policy's pass rate over `samples` samples, and the rates."""
    rates = pass_rates(replace(context, config=replace(context.config, budget=samples)), problems)
    # Ties (common: many problems at rate 0 or 1) break by problem hash, not by position, so that
    # validation problems (listed first) do not all land in easier bins than tied test problems.
    hashes = [context.task.problem_hash(problem) for problem in problems]
    order = sorted(range(len(problems)), key=lambda i: (-rates[i], hashes[i]))
    assigned = [0] * len(problems)
    for rank, index in enumerate(order):
        assigned[index] = rank * bins // len(problems)
    return assigned, rates


def pass_rates(context: SearchContext, problems: Sequence[Problem]) -> list[float]:
    """The share of `budget` samples of each problem that the task's verifier accepts."""
    from arborlab.search.best_of_n import sample_n

    finished = sample_n(context, list(problems), [Budget() for _ in problems])
    correct = [0] * len(problems)
    for trace in finished:
        correct[trace.owner] += context.task.verify(problems[trace.owner], context.policy.text(trace)).correct
    return [c / context.config.budget for c in correct]


def summarize(rows: Sequence[dict], bins: int) -> dict[tuple[str, int, str], dict[str, float]]:
    """Mean accuracy and compute per (strategy, budget, bin), bin "all" included."""
    groups: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
    for row in rows:
        for group in (str(row["bin"] + 1), "all"):
            groups[(row["strategy"], row["budget"], group)].append(row)
    return {
        key: {"accuracy": _mean(members, "correct"), "tokens": _mean(members, "tokens"),
              "flops": _mean(members, "total_flops"), "seconds": _mean(members, "seconds"), "n": len(members)}
        for key, members in groups.items()
    }


def _mean(rows: Sequence[dict], field: str) -> float:
    return sum(float(r[field]) for r in rows) / len(rows)


def compute_optimal(val_rows: Sequence[dict], test_rows: Sequence[dict], budgets: Sequence[int], bins: int) -> tuple[list[dict], dict]:
    """Per budget, the strategy each bin picks on validation, and those picks' rows on test.

    Returns the test rows of the compute-optimal "strategy" (relabelled) and the picks
    {budget: {bin: strategy}}.
    """
    val = summarize(val_rows, bins)
    strategies = sorted({r["strategy"] for r in val_rows})
    picks: dict[int, dict[int, str]] = {}
    chosen_rows = []
    for budget in budgets:
        picks[budget] = {}
        for bin_ in range(bins):
            options = [(s, val[(s, budget, str(bin_ + 1))]) for s in strategies if (s, budget, str(bin_ + 1)) in val]
            if not options:
                continue
            best = max(options, key=lambda pair: (pair[1]["accuracy"], -pair[1]["flops"], pair[0]))[0]
            picks[budget][bin_] = best
            chosen_rows += [dict(r, strategy=COMPUTE_OPTIMAL) for r in test_rows
                            if r["strategy"] == best and r["budget"] == budget and r["bin"] == bin_]
    return chosen_rows, picks


def run_scaling(model_dir: Path | str, task_name: str, budgets: Sequence[int], strategies: Sequence[str], verifier: str,
                config: SearchConfig, n_problems: int, out: Path | str, difficulty: dict | None = None, bins: int = 4,
                difficulty_samples: int = 16, max_new_tokens: int = 256, overwrite: bool = False,
                show_progress: bool = True) -> dict:
    """``arbor scaling``: the strategy × budget grid on validation and test problems; writes the outputs."""
    for name in strategies:
        check_strategy(name)
    if not budgets or min(budgets) < 1:
        raise ArborError("--budgets takes positive integers separated by commas, e.g. 1,2,4,8.")
    if bins < 1 or n_problems < bins:
        raise ArborError(f"--problems ({n_problems}) must be at least --bins ({bins}), and --bins at least 1.")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ArborError(f"the output folder {out} already exists; pass --overwrite to replace it.")
    context = load_context(model_dir, task_name, verifier, config, max_new_tokens)
    chosen_difficulty = context.task.difficulty(difficulty or {})
    splits = problems_by_split(context.task, {"val": n_problems, "test": n_problems}, config.seed, chosen_difficulty)
    grid = [(s, b) for s in strategies for b in (sorted(set(budgets)) if s != "greedy" else [1])]
    # An interrupted run resumes: the bins and each finished (strategy, budget) cell are journalled.
    journal = Journal(journal_beside(out), discard=overwrite, settings=dict(
        model_dir=str(Path(model_dir).resolve()), task=task_name, budgets=sorted(set(budgets)), strategies=list(strategies),
        verifier=verifier, config=asdict(config), n_problems=n_problems, difficulty=chosen_difficulty, bins=bins,
        difficulty_samples=difficulty_samples, max_new_tokens=max_new_tokens))
    rows: dict[str, list[dict]] = {"val": [], "test": []}
    with progress_bar("scaling", total=len(grid) + 1, enabled=show_progress, unit="runs") as advance:
        problems = splits["val"] + splits["test"]
        assigned, rates = journal.piece("bins", lambda: difficulty_bins(context, problems, difficulty_samples, bins))
        advance(1)
        for strategy, budget in grid:
            def cell():
                context.policy.prefix_cache.clear()  # each cell on its own, so a resumed run equals a straight one
                return grade(replace(context, config=replace(config, budget=budget)), strategy, problems)

            for index, row in enumerate(journal.piece(f"{strategy}@{budget}", cell)):
                split = "val" if index < n_problems else "test"
                rows[split].append(dict(row, strategy=strategy, budget=budget, bin=assigned[index], pass_rate=rates[index]))
            advance(1)
    optimal_rows, picks = compute_optimal(rows["val"], rows["test"], sorted(set(budgets)), bins)
    test = summarize(rows["test"] + optimal_rows, bins)
    report = {
        "model_dir": str(model_dir), "task": task_name, "verifier": verifier, "config": asdict(config),
        "budgets": sorted(set(budgets)), "strategies": list(strategies), "bins": bins, "n_problems": n_problems,
        "difficulty_samples": difficulty_samples, "mean_pass_rate": sum(rates) / len(rates),
        "compute_optimal_picks": {str(b): {str(k + 1): s for k, s in p.items()} for b, p in picks.items()},
        "test": [{"strategy": s, "budget": b, "bin": g, **v} for (s, b, g), v in sorted(test.items())],
        "val": [{"strategy": s, "budget": b, "bin": g, **v} for (s, b, g), v in sorted(summarize(rows["val"], bins).items())],
    }
    _write_outputs(out, report, rows, bins, overwrite)
    journal.finish()
    return report


def table_rows(report: dict) -> list[dict]:
    """One row per (strategy, budget) on test: overall and per-bin accuracy, mean tokens and FLOPs."""
    by_key: dict[tuple[str, int], dict] = {}
    for entry in report["test"]:
        row = by_key.setdefault((entry["strategy"], entry["budget"]), {"strategy": entry["strategy"], "budget": entry["budget"]})
        if entry["bin"] == "all":
            row.update(accuracy=entry["accuracy"], tokens=entry["tokens"], flops=entry["flops"], seconds=entry["seconds"])
        else:
            row[f"bin {entry['bin']}"] = entry["accuracy"]
    ordered = []
    for (strategy, budget), row in sorted(by_key.items()):
        bins = {k: row[k] for k in sorted(row) if k.startswith("bin ")}
        ordered.append({"strategy": strategy, "budget": budget, "accuracy": row["accuracy"], **bins,
                        "tokens": row["tokens"], "flops": row["flops"], "seconds": row["seconds"]})
    return ordered


def plot_scaling(report: dict, path: Path) -> Path:
    """Test accuracy against mean FLOPs per problem: one panel for all problems and one per bin."""
    from arborlab.report import plt, save_figure

    groups = ["all"] + [str(b + 1) for b in range(report["bins"])]
    figure, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.4), sharey=True, squeeze=False)
    strategies = list(report["strategies"]) + [COMPUTE_OPTIMAL]
    for axis, group in zip(axes[0], groups):
        for strategy in strategies:
            points = sorted((e["flops"], e["accuracy"]) for e in report["test"] if e["strategy"] == strategy and e["bin"] == group)
            if points:
                style = dict(color="black", linestyle="--", linewidth=2) if strategy == COMPUTE_OPTIMAL else {}
                axis.plot(*zip(*points), marker="o", markersize=3, label=strategy, **style)
        title = "all problems" if group == "all" else f"difficulty bin {group}" + (" (easiest)" if group == "1" else "")
        axis.set(xscale="log", xlabel="FLOPs per problem", title=title, ylim=(-0.02, 1.02))
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return save_figure(figure, path)


def _write_outputs(out: Path, report: dict, rows: dict, bins: int, overwrite: bool) -> None:
    from arborlab.report import image, table, write_report

    rows_table = table_rows(report)
    with atomic_directory(out, overwrite=overwrite) as staging:
        (staging / "scaling.json").write_text(json.dumps(report, indent=2))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows_table[0]))
        writer.writeheader()
        writer.writerows(rows_table)
        (staging / "table.csv").write_text(buffer.getvalue())
        (staging / "predictions.jsonl").write_text("".join(
            json.dumps({"split": split, **row}) + "\n" for split, split_rows in rows.items() for row in split_rows))
        plot_scaling(report, staging / "scaling.png")
        picks = [{"budget": b, **{f"bin {k}": s for k, s in p.items()}} for b, p in report["compute_optimal_picks"].items()]
        write_report(staging / "report.html", f"test-time compute scaling: {report['task']}", [
            ("accuracy against compute (test split)", image(staging / "scaling.png")),
            ("table (test split; accuracy overall and by difficulty bin, mean compute per problem)", table(rows_table)),
            ("compute-optimal picks (chosen on the validation split)", table(picks)),
            ("settings", f"<pre>{json.dumps({k: report[k] for k in ('model_dir', 'verifier', 'config', 'n_problems', 'difficulty_samples', 'mean_pass_rate')}, indent=2)}</pre>"),
        ])
