"""`arbor interp …`: the dissection studies, each writing PNGs, summary.json and report.html into a run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from arborlab.errors import ArborError

interp_app = typer.Typer(help="Take a model apart: logit lens, attribution, sweeps, patching, probes.", no_args_is_help=True)
console = Console()

MODEL_DIR = typer.Argument(..., metavar="MODEL_DIR", help="a local HF causal-LM folder with its tokenizer")
TASK = typer.Option("compare", "--task", help="task whose problems and labels the study uses")
DIFFICULTY = typer.Option([], "--difficulty", "-d", help="a difficulty knob as KEY=VALUE; repeat for several")
OUT = typer.Option(..., help="run folder to write")
SEED = typer.Option(0, help="random seed for the problems")
OVERWRITE = typer.Option(False, help="replace the run folder if it exists")


def _run(name: str, study_factory, out: Path, overwrite: bool, **settings: Any) -> None:
    from arborlab.cli import parse_difficulty
    from arborlab.interp.reports import run_study
    from arborlab.tasks import get_task

    task = get_task(settings["task"])
    settings["difficulty"] = task.difficulty(parse_difficulty(settings["difficulty"]))
    settings["model_dir"] = str(settings["model_dir"])
    if "n" in settings and settings["n"] < 1:
        raise ArborError(f"--n must be at least 1, got {settings['n']}.")
    run_study(name, settings, out, overwrite, study_factory(settings))
    console.print(f"wrote {out / 'report.html'}")


@interp_app.command("lens")
def lens(model_dir: Path = MODEL_DIR, task: str = TASK, difficulty: list[str] = DIFFICULTY,
         n: int = typer.Option(64, "--n", help="problems"), seed: int = SEED, out: Path = OUT, overwrite: bool = OVERWRITE) -> None:
    """Logit lens of the answer's logit difference after every layer."""
    from arborlab.interp.reports import lens_study

    _run("lens", lens_study, out, overwrite, model_dir=model_dir, task=task, difficulty=difficulty, n=n, seed=seed)


@interp_app.command("dla")
def dla(model_dir: Path = MODEL_DIR, task: str = TASK, difficulty: list[str] = DIFFICULTY,
        n: int = typer.Option(64, "--n", help="problems"), seed: int = SEED, out: Path = OUT, overwrite: bool = OVERWRITE) -> None:
    """Direct logit attribution of logit(correct) − logit(wrong) to every head, MLP, embedding and bias."""
    from arborlab.interp.reports import dla_study

    _run("dla", dla_study, out, overwrite, model_dir=model_dir, task=task, difficulty=difficulty, n=n, seed=seed)


@interp_app.command("sweep")
def sweep(model_dir: Path = MODEL_DIR, task: str = TASK, difficulty: list[str] = DIFFICULTY,
          field: str = typer.Option(..., help="the input to vary, e.g. price_a"),
          values: str = typer.Option(..., help="LOW:HIGH or LOW:HIGH:STEP (inclusive), or a comma-separated list"),
          problem: Optional[str] = typer.Option(None, help="the problem as JSON (default: one generated with --seed)"),
          top: int = typer.Option(8, help="components drawn in the line plots"),
          seed: int = SEED, out: Path = OUT, overwrite: bool = OVERWRITE) -> None:
    """Vary one input, hold the others: each component's contribution, its derivative, and the decision boundary."""
    from arborlab.interp.reports import sweep_study

    if top < 1:
        raise ArborError(f"--top must be at least 1, got {top}.")
    _run("sweep", sweep_study, out, overwrite, model_dir=model_dir, task=task, difficulty=difficulty, field=field,
         values=parse_values(values), problem=_parse_problem(problem), top=top, seed=seed)


@interp_app.command("patch")
def patch(model_dir: Path = MODEL_DIR, task: str = TASK, difficulty: list[str] = DIFFICULTY,
          n: int = typer.Option(16, "--n", help="minimal pairs"),
          field: Optional[str] = typer.Option(None, help="the input every pair changes (default: drawn per pair)"),
          seed: int = SEED, out: Path = OUT, overwrite: bool = OVERWRITE) -> None:
    """Activation patching (denoising and noising) and attribution patching on minimal pairs."""
    from arborlab.interp.reports import patch_study

    _run("patch", patch_study, out, overwrite, model_dir=model_dir, task=task, difficulty=difficulty, n=n, field=field, seed=seed)


@interp_app.command("probe")
def probe(model_dir: Path = MODEL_DIR, task: str = TASK, difficulty: list[str] = DIFFICULTY,
          label: str = typer.Option("answer", help="answer (the prompt's answer), or after each search step: solvable, depth (the search depth) or value (the number the step computed)"),
          hook: str = typer.Option("blocks.{layer}.hook_resid_post", help="hook point with {layer} in it"),
          n: int = typer.Option(200, "--n", help="problems"), seed: int = SEED, out: Path = OUT, overwrite: bool = OVERWRITE) -> None:
    """Linear probes per layer for a task label, with a control task and selectivity."""
    from arborlab.interp.reports import probe_study

    _run("probe", probe_study, out, overwrite, model_dir=model_dir, task=task, difficulty=difficulty, label=label, hook=hook,
         n=n, seed=seed)


def parse_values(text: str) -> list[int]:
    """``LOW:HIGH[:STEP]`` (inclusive) or ``A,B,C`` as a list of integers."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            return list(range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1))
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise ArborError(f"--values takes LOW:HIGH, LOW:HIGH:STEP or integers separated by commas, got '{text}'.") from None


def _parse_problem(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        problem = json.loads(text)
    except json.JSONDecodeError:
        problem = None
    if not isinstance(problem, dict):
        raise ArborError(f"--problem takes a JSON object, e.g. '{{\"kind\": \"unit_price\", \"price_a\": 12, ...}}', got '{text}'.")
    return problem


@interp_app.command("circuit")
def circuit(out: Path = typer.Option(Path("runs/compare-circuit"), help="study folder (rerun to resume training)"),
            max_steps: int = typer.Option(1500, help="SFT steps of the compare model"),
            difficulty: list[str] = DIFFICULTY,
            n_pairs: int = typer.Option(64, help="minimal pairs for patching"),
            top_k: int = typer.Option(3, help="components tested together for necessity")) -> None:
    """Research check (slow): train a compare model, find the components that carry its decision, patch them."""
    from arborlab.cli import parse_difficulty
    from arborlab.studies.compare_circuit import CircuitStudy, run_compare_circuit
    from arborlab.tasks import get_task

    if min(max_steps, n_pairs, top_k) < 1:
        raise ArborError("--max-steps, --n-pairs and --top-k must be at least 1.")
    chosen = get_task("compare").difficulty({**CircuitStudy().difficulty, **parse_difficulty(difficulty)})
    summary = run_compare_circuit(CircuitStudy(difficulty=chosen, max_steps=max_steps, n_pairs=n_pairs, top_k=top_k), out)
    top = summary["necessity"][0]
    console.print(f"accuracy {summary['accuracy']:.1%}; noising {top['components']} leaves {top['noising']:.3f}; "
                  f"report {out / 'report.html'}")
