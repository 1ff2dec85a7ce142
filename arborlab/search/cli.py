"""The ``arbor search``, ``arbor scaling`` and ``arbor train prm`` commands (registered in `arborlab.cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from arborlab.errors import ArborError

console = Console()
DIFFICULTY_HELP = "a difficulty knob as KEY=VALUE; repeat for several (see 'arbor tasks list')"
VERIFIER_HELP = "oracle (the task's exact checker), orm:DIR or prm:DIR (a model from 'arbor train prm')"
AGGREGATE_HELP = "how step scores become one: last, min, prod or mean"


def _difficulty(pairs: list[str]) -> dict[str, str]:
    from arborlab.cli import parse_difficulty

    return parse_difficulty(pairs)


def _budgets(text: str) -> list[int]:
    try:
        budgets = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        budgets = []
    if not budgets or budgets[0] < 1:
        raise ArborError(f"--budgets takes positive integers separated by commas, e.g. 1,2,4,8; got '{text}'.")
    return budgets


def search_command(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="the policy: a local HF causal-LM folder with its tokenizer"),
    task_name: str = typer.Option(..., "--task", help="task of the problems"),
    strategy: str = typer.Option("best-of-n", help="greedy, best-of-n, vote, weighted-vote, beam, dvts or mcts"),
    budget: int = typer.Option(4, help="N: samples (best-of-n, votes), beams (beam, dvts) or simulations (mcts)"),
    verifier: str = typer.Option("oracle", help=VERIFIER_HELP),
    aggregate: str = typer.Option("last", help=AGGREGATE_HELP),
    problems: int = typer.Option(20, help="test-split problems to search"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    temperature: float = typer.Option(1.0, help="sampling temperature (greedy always uses 0)"),
    beam_width: int = typer.Option(4, "--beam-width", help="M: children per kept beam (beam, dvts)"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="completion tokens at most"),
    out: Optional[Path] = typer.Option(None, help="write one JSON line per problem here"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Search for answers with a test-time strategy; prints accuracy and compute per problem."""
    from arborlab.io import atomic_file
    from arborlab.search.base import SearchConfig
    from arborlab.search.scaling import check_strategy, grade, load_context, problems_by_split

    check_strategy(strategy)
    if problems < 1:
        raise ArborError(f"--problems must be at least 1, got {problems}.")
    config = SearchConfig(budget=budget, aggregate=aggregate, temperature=temperature, beam_width=beam_width, seed=seed)
    context = load_context(model_dir, task_name, verifier, config, max_new_tokens)
    chosen = problems_by_split(context.task, {"test": problems}, seed, context.task.difficulty(_difficulty(difficulty)))["test"]
    rows = grade(context, strategy, chosen)
    if out is not None:
        with atomic_file(out) as stream:
            stream.writelines(json.dumps(row) + "\n" for row in rows)
    n = len(rows)
    accuracy = sum(r["correct"] for r in rows) / n
    tokens, flops, seconds = (sum(r[k] for r in rows) / n for k in ("tokens", "total_flops", "seconds"))
    console.print(f"{strategy} N={budget} ({verifier}): accuracy {accuracy:.1%} on {n} problems; per problem "
                  f"{tokens:,.0f} tokens, {flops:.3g} FLOPs, {seconds:.2f} s" + (f"; wrote {out}" if out else ""))


def scaling_command(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="the policy: a local HF causal-LM folder with its tokenizer"),
    task_name: str = typer.Option(..., "--task", help="task of the problems"),
    budgets: str = typer.Option("1,2,4,8,16", help="comma-separated budgets N, e.g. 1,2,4,...,256"),
    strategies: str = typer.Option("greedy,best-of-n,vote,weighted-vote,beam,dvts,mcts", help="comma-separated strategies"),
    verifier: str = typer.Option("oracle", help=VERIFIER_HELP),
    aggregate: str = typer.Option("last", help=AGGREGATE_HELP),
    problems: int = typer.Option(40, help="problems in each of the validation and test splits"),
    bins: int = typer.Option(4, help="difficulty bins (by the policy's own pass rate)"),
    difficulty_samples: int = typer.Option(16, "--difficulty-samples", help="samples per problem to estimate its pass rate"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    temperature: float = typer.Option(1.0, help="sampling temperature"),
    beam_width: int = typer.Option(4, "--beam-width", help="M: children per kept beam (beam, dvts)"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="completion tokens at most"),
    out: Path = typer.Option(..., help="output folder: scaling.json, table.csv, scaling.png, report.html"),
    overwrite: bool = typer.Option(False, help="replace an existing output folder"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Accuracy against compute for every strategy by difficulty, with a compute-optimal line (Snell et al. 2024)."""
    from arborlab.search.base import SearchConfig
    from arborlab.search.scaling import run_scaling, table_rows

    config = SearchConfig(aggregate=aggregate, temperature=temperature, beam_width=beam_width, seed=seed)
    names = [name.strip() for name in strategies.split(",") if name.strip()]
    report = run_scaling(model_dir, task_name, _budgets(budgets), names, verifier, config, problems, out,
                         _difficulty(difficulty), bins, difficulty_samples, max_new_tokens, overwrite)
    for row in table_rows(report):
        console.print(f"{row['strategy']:>15} N={row['budget']:<4} accuracy {row['accuracy']:.1%}  {row['flops']:.3g} FLOPs")
    console.print(f"wrote {out}/report.html")


def train_prm_command(
    policy: Path = typer.Argument(..., metavar="POLICY_DIR", help="the backbone, and the policy whose traces are labelled"),
    task_name: str = typer.Option(..., "--task", help="task of the traces"),
    out: Path = typer.Option(..., help="run folder to create (final/ holds the scorer)"),
    kind: str = typer.Option("prm", help="prm (step labels) or orm (outcome labels only)"),
    labels: str = typer.Option("exact", help="exact (the step checker), mc-hard or mc-soft (Math-Shepherd rollouts)"),
    rollouts: int = typer.Option(8, help="Math-Shepherd rollouts per step"),
    problems: int = typer.Option(400, help="training problems"),
    eval_problems: int = typer.Option(100, "--eval-problems", help="held-out problems for the evaluation"),
    samples: int = typer.Option(2, help="policy traces per problem"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    max_steps: int = typer.Option(300, "--max-steps", help="optimizer steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="traces per step"),
    learning_rate: float = typer.Option(1e-3, "--lr", help="peak learning rate"),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="completion tokens at most"),
    overwrite: bool = typer.Option(False, help="replace a run already in --out"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Train a process (or outcome) reward model: a scoring head on a causal LM."""
    from arborlab.train.prm import PRMConfig, train_prm

    config = PRMConfig(policy=str(policy), task=task_name, difficulty=_difficulty(difficulty), kind=kind, labels=labels,
                       rollouts=rollouts, n_problems=problems, eval_problems=eval_problems, samples=samples,
                       max_new_tokens=max_new_tokens, max_steps=max_steps, batch_size=batch_size,
                       learning_rate=learning_rate, seed=seed)
    report = train_prm(config, out, overwrite=overwrite)
    auc = report["step_roc_auc"] if kind == "prm" else report["outcome_roc_auc"]
    shown = "n/a" if auc is None else f"{auc:.3f}"
    console.print(f"{kind.upper()} held-out {'step' if kind == 'prm' else 'outcome'} ROC-AUC {shown}; run folder {out}")
