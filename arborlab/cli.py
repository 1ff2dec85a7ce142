"""The `arbor` command line. Each command is a thin shell over the Python API of the same name."""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from arborlab.errors import ArborError
from arborlab.render import render_trace

app = typer.Typer(help="arborlab: find out how reasoning language models reason.", no_args_is_help=True, add_completion=False)
tasks_app = typer.Typer(help="Tasks with exact verifiers, step checkers and trace writers.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
console = Console()
err_console = Console(stderr=True)

STYLE_HELP = "trace style: direct (answer only), cot (shortest chain of thought) or search (with backtracking)"
ORDER_HELP = "search order for --style search: dfs, bfs, best-first, or a task's own (countdown: dfs-bounded, dfs-pruned, dfs-pruned-products; see `arbor tasks list`)"
DIFFICULTY_HELP = "a difficulty knob as KEY=VALUE; repeat for several (see 'arbor tasks list')"


def parse_difficulty(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE strings into a dict (values stay strings; each task's knobs parse them)."""
    chosen = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ArborError(f"--difficulty takes KEY=VALUE, got '{pair}'.")
        chosen[key.strip()] = value.strip()
    return chosen


@tasks_app.command("list")
def tasks_list() -> None:
    """Show every task with its difficulty knobs and their defaults."""
    from arborlab.tasks import get_task, task_names

    table = Table(title="arborlab tasks", show_lines=True)
    table.add_column("task", style="bold cyan")
    table.add_column("what it is")
    table.add_column("knobs (default; allowed)")
    table.add_column("search orders")
    for name in task_names():
        task = get_task(name)
        knobs = "\n".join(f"{k.name} = {json.dumps(k.default)}  ({k.allowed()}): {k.help}" for k in task.knobs)
        table.add_row(name, task.summary, knobs or "-", ", ".join(task.search_orders))
    from arborlab.tasks.reasoning_gym import dataset_names

    rg_names = dataset_names()
    if rg_names:
        table.add_row("rg:NAME", f"any of reasoning-gym's {len(rg_names)} datasets, answer-only (e.g. rg:{rg_names[0]})",
                      "its config's int, bool and str fields", "-")
    console.print(table)


@tasks_app.command("sample")
def tasks_sample(
    task_name: str = typer.Argument(..., metavar="TASK"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    style: str = typer.Option("cot", help=STYLE_HELP),
    order: str = typer.Option("dfs", help=ORDER_HELP),
    n: int = typer.Option(3, "--n", help="how many problems"),
    seed: int = typer.Option(0, help="random seed"),
    unsolvable: bool = typer.Option(False, help="draw problems that have no solution"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines instead of a pretty view"),
) -> None:
    """Print sample problems with their traces, each step checked, and the verdict."""
    from arborlab.tasks import get_task

    task = get_task(task_name)
    if n < 1:
        raise ArborError(f"--n must be at least 1, got {n}.")
    for index, problem in enumerate(task.problems(n, seed, parse_difficulty(difficulty), solvable=not unsolvable)):
        trace = task.trace(problem, style, order)
        if as_json:
            print(json.dumps({"problem": problem, "prompt": task.prompt(problem), "completion": trace}))
        else:
            console.print(render_trace(task, problem, trace, title=f"{task_name} #{index} ({style})"))


@tasks_app.command("make-dataset")
def tasks_make_dataset(
    task_name: str = typer.Argument(..., metavar="TASK"),
    n: int = typer.Option(..., "--n", help="number of distinct problems over all splits"),
    style: str = typer.Option(..., help=STYLE_HELP),
    out: Path = typer.Option(..., help="output folder for train/val/test.parquet"),
    order: str = typer.Option("dfs", help=ORDER_HELP),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    seed: int = typer.Option(0, help="random seed"),
    unsolvable: bool = typer.Option(False, help="only problems that have no solution"),
    overwrite: bool = typer.Option(False, help="replace an existing output folder"),
    workers: Optional[int] = typer.Option(None, help="worker processes (default: one per core)"),
) -> None:
    """Write train/val/test Parquet files, split by canonical problem hash."""
    from arborlab.data import make_dataset

    counts = make_dataset(
        task_name, n, style, out, seed, parse_difficulty(difficulty), order, not unsolvable, overwrite, workers
    )
    summary = ", ".join(f"{split} {count}" for split, count in counts.items())
    console.print(f"wrote {out}/{{train,val,test}}.parquet: {summary}")


@tasks_app.command("score")
def tasks_score(
    task_name: str = typer.Argument(..., metavar="TASK"),
    file: Path = typer.Argument(..., metavar="FILE.jsonl", help='lines {"problem": {...}, "answer": "..."}; - for stdin'),
    out: Optional[Path] = typer.Option(None, help="write verdicts here instead of standard output"),
    summary: bool = typer.Option(False, "--summary", help="also print the wrong answers tallied by reason and by the kind of their first invalid step"),
) -> None:
    """Grade answers with the task's exact verifier: one JSON verdict per input line."""
    from arborlab.io import atomic_file
    from arborlab.score import score_lines, tally_wrong
    from arborlab.tasks import get_task

    task = get_task(task_name)
    if str(file) != "-" and not file.is_file():
        raise ArborError(f"{file} is not a file.")
    stream = sys.stdin if str(file) == "-" else open(file, encoding="utf-8", errors="replace")
    correct = total = 0
    verdicts = []
    with stream, (atomic_file(out) if out else nullcontext(sys.stdout)) as sink:
        for verdict in score_lines(task, stream):
            correct, total = correct + verdict["correct"], total + 1
            sink.write(json.dumps(verdict) + "\n")
            if summary:
                verdicts.append(verdict)
    share = f" ({correct / total:.1%})" if total else ""
    err_console.print(f"{correct} of {total} correct{share}")
    if summary:
        err_console.print(_wrong_answers_table(tally_wrong(verdicts)))


def _wrong_answers_table(tally: dict):
    from rich.table import Table

    table = Table(title=f"{tally['wrong']} wrong answers")
    table.add_column("first invalid step")
    table.add_column("count", justify="right")
    table.add_column("the answer's verdict")
    table.add_column("count", justify="right")
    kinds, reasons = list(tally["first_invalid"].items()), list(tally["reasons"].items())
    for row in range(max(len(kinds), len(reasons))):
        kind, kind_count = kinds[row] if row < len(kinds) else ("", "")
        reason, reason_count = reasons[row] if row < len(reasons) else ("", "")
        table.add_row(kind, str(kind_count), reason, str(reason_count))
    return table


train_app = typer.Typer(help="Train toy models: SFT from scratch, then GRPO or RFT on verifiable rewards.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("sft")
def train_sft_command(
    out: Optional[Path] = typer.Option(None, help="run folder to create (runs/NAME)"),
    resume: Optional[Path] = typer.Option(None, help="continue the run in this folder from its last checkpoint"),
    config: Optional[Path] = typer.Option(None, "--config", help="a run.toml of SFT settings (options below override it)"),
    task_name: Optional[str] = typer.Option(None, "--task", help="task to train on (default countdown)"),
    style: Optional[str] = typer.Option(None, help=STYLE_HELP),
    order: Optional[str] = typer.Option(None, help=ORDER_HELP),
    preset: Optional[str] = typer.Option(None, help="model size preset: 1m, 3m or 20m"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    n_problems: Optional[int] = typer.Option(None, help="distinct problems in the dataset made for the run"),
    data: Optional[Path] = typer.Option(None, help="use this dataset folder instead of making one"),
    max_steps: Optional[int] = typer.Option(None, help="optimizer steps"),
    time_budget: Optional[float] = typer.Option(None, help="seconds of training: the timed warmup steps fix the number of steps, re-fitted to the pace on the way"),
    batch_size: Optional[int] = typer.Option(None, help="sequences per step"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="peak learning rate"),
    optimizer: Optional[str] = typer.Option(None, help="adamw, or muon (Muon on the hidden weight matrices, AdamW on the rest)"),
    ema_decay: Optional[float] = typer.Option(None, help="grade and save an exponential moving average of the weights with this decay (0: the last step's weights)"),
    seed: Optional[int] = typer.Option(None, help="random seed"),
    number_init: Optional[str] = typer.Option(None, help="number embeddings: random; digits (start by spelling their digits); fourier (digits, plus points on circles of period 10, 100 and 1000); fourier-harmonics (also periods 2, 2.5 and 5)"),
    numbers: Optional[str] = typer.Option(None, help="tokenizer numbers: whole (one token per integer 0-999) or digits"),
    overwrite: bool = typer.Option(False, help="replace a run already in --out"),
) -> None:
    """Supervised fine-tuning of a toy model from scratch on a task's traces."""
    from arborlab.runs import read_toml
    from arborlab.train.sft import SFTConfig, train_sft

    if resume is not None:
        result = train_sft(SFTConfig(), resume, resume=True)
        out = resume
    else:
        if out is None:
            raise ArborError("give --out runs/NAME for a new run, or --resume runs/NAME to continue one.")
        settings = read_toml(config) if config else {}
        chosen = {
            "task": task_name, "style": style, "order": order, "preset": preset, "n_problems": n_problems,
            "data_dir": str(data) if data else None, "max_steps": max_steps, "time_budget": time_budget, "batch_size": batch_size,
            "learning_rate": learning_rate, "optimizer": optimizer, "seed": seed, "number_init": number_init, "numbers": numbers,
            "ema_decay": ema_decay,
        }
        settings.update({k: v for k, v in chosen.items() if v is not None})
        if difficulty:
            settings["difficulty"] = {**settings.get("difficulty", {}), **parse_difficulty(difficulty)}
        result = train_sft(SFTConfig.from_dict(settings), out, overwrite=overwrite)
    console.print(f"test accuracy {result['test_accuracy']:.1%} on {result['test_n']} held-out problems; run folder {out}")


from arborlab.search.cli import scaling_command, search_command, train_prm_command  # noqa: E402

train_app.command("prm")(train_prm_command)


def _rl_settings(config: Optional[Path], chosen: dict, difficulty: list[str]) -> dict:
    """Settings from a --config TOML, overridden by the options given on the command line."""
    from arborlab.runs import read_toml

    settings = read_toml(config) if config else {}
    settings.update({k: v for k, v in chosen.items() if v is not None})
    if difficulty:
        settings["difficulty"] = {**settings.get("difficulty", {}), **parse_difficulty(difficulty)}
    return settings


def _print_rl_result(summary: dict, out: Path) -> None:
    before, after, n = summary["heldout_accuracy_before"], summary["heldout_accuracy_after"], summary["heldout_n"]
    sampled = ""
    if "heldout_pass1_before" in summary:
        sampled = (f", pass@1 sampled {summary['heldout_pass1_before']:.1%} -> {summary['heldout_pass1_after']:.1%} "
                   f"({summary['heldout_samples']} samples each)")
    console.print(f"held-out accuracy {before:.1%} -> {after:.1%} greedy{sampled} on {n} problems; run folder {out}")


@train_app.command("grpo")
def train_grpo_command(
    init: Optional[Path] = typer.Option(None, help="model folder to start from (e.g. runs/NAME/final of an SFT run)"),
    out: Optional[Path] = typer.Option(None, help="run folder to create (runs/NAME)"),
    resume: Optional[Path] = typer.Option(None, help="continue the run in this folder from its last checkpoint"),
    config: Optional[Path] = typer.Option(None, "--config", help="a TOML of GRPO settings, e.g. recipes/countdown-grpo.toml"),
    task_name: Optional[str] = typer.Option(None, "--task", help="task whose verifier gives the reward"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    reward: Optional[str] = typer.Option(None, help="exact, format, steps, random, positive_only or negative_only"),
    loss: Optional[str] = typer.Option(None, "--loss", help="loss aggregation: sequence (GRPO), token (DAPO) or constant (Dr. GRPO)"),
    max_steps: Optional[int] = typer.Option(None, help="GRPO steps"),
    prompts_per_step: Optional[int] = typer.Option(None, help="problems per step"),
    group_size: Optional[int] = typer.Option(None, help="completions per problem"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="learning rate"),
    beta: Optional[float] = typer.Option(None, help="weight of the KL to the initial model"),
    seed: Optional[int] = typer.Option(None, help="random seed"),
    overwrite: bool = typer.Option(False, help="replace a run already in --out"),
) -> None:
    """GRPO on the task's verifiable reward, from a trained model; metrics, checkpoints, report."""
    from arborlab.train.grpo import GRPOConfig, train_grpo

    if resume is not None:
        summary, out = train_grpo(GRPOConfig(), resume, resume=True), resume
    else:
        if out is None:
            raise ArborError("give --out runs/NAME for a new run, or --resume runs/NAME to continue one.")
        chosen = {"init": str(init) if init else None, "task": task_name, "reward": reward, "loss_aggregation": loss,
                  "max_steps": max_steps, "prompts_per_step": prompts_per_step, "group_size": group_size,
                  "learning_rate": learning_rate, "beta": beta, "seed": seed}
        summary = train_grpo(GRPOConfig.from_dict(_rl_settings(config, chosen, difficulty)), out, overwrite=overwrite)
    _print_rl_result(summary, out)


@train_app.command("rft")
def train_rft_command(
    init: Optional[Path] = typer.Option(None, help="model folder to improve (e.g. runs/NAME/final of an SFT run)"),
    out: Optional[Path] = typer.Option(None, help="run folder to create (runs/NAME)"),
    resume: Optional[Path] = typer.Option(None, help="continue the run in this folder from its last finished round"),
    config: Optional[Path] = typer.Option(None, "--config", help="a TOML of RFT settings"),
    task_name: Optional[str] = typer.Option(None, "--task", help="task whose verifier filters the samples"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP),
    rounds: Optional[int] = typer.Option(None, help="sample-filter-fine-tune rounds"),
    samples: Optional[int] = typer.Option(None, help="completions sampled per problem (k)"),
    problems_per_round: Optional[int] = typer.Option(None, help="training problems sampled each round"),
    rationalize: Optional[bool] = typer.Option(None, "--rationalize/--no-rationalize", help="STaR: retry failures with the answer as a hint"),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="fine-tuning learning rate"),
    seed: Optional[int] = typer.Option(None, help="random seed"),
    overwrite: bool = typer.Option(False, help="replace a run already in --out"),
) -> None:
    """Rejection-sampling fine-tuning / STaR: keep verified samples, fine-tune, repeat."""
    from arborlab.train.rft import RFTConfig, train_rft

    if resume is not None:
        summary, out = train_rft(RFTConfig(), resume, resume=True), resume
    else:
        if out is None:
            raise ArborError("give --out runs/NAME for a new run, or --resume runs/NAME to continue one.")
        chosen = {"init": str(init) if init else None, "task": task_name, "rounds": rounds, "samples": samples,
                  "problems_per_round": problems_per_round, "rationalize": rationalize, "learning_rate": learning_rate, "seed": seed}
        summary = train_rft(RFTConfig.from_dict(_rl_settings(config, chosen, difficulty)), out, overwrite=overwrite)
    _print_rl_result(summary, out)


@app.command("sample")
def sample_command(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="a local HF causal-LM folder with its tokenizer"),
    prompts: Path = typer.Option(..., help="a text file (one prompt a line) or JSONL with a 'prompt' field"),
    n: int = typer.Option(1, "--n", help="samples per prompt"),
    temperature: float = typer.Option(1.0, help="0 is greedy decoding"),
    top_p: float = typer.Option(1.0, "--top-p", help="nucleus sampling mass"),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="tokens to generate at most"),
    out: Path = typer.Option(..., help="output JSONL: prompt, completion, tokens, logprobs per sample"),
    backend: str = typer.Option("arbor", help="arbor (ours), hf (transformers generate) or vllm (when installed)"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """Sample completions from any local HF causal LM, batched, stopping at eos or </answer>."""
    from arborlab.completions import complete, read_prompts
    from arborlab.io import atomic_file
    from arborlab.journal import Journal, journal_beside
    from arborlab.models import load_model

    model, tokenizer = load_model(model_dir)
    if tokenizer is None:
        raise ArborError(f"{model_dir} has no tokenizer; save one beside the model.")
    texts = read_prompts(prompts)
    # An interrupted run resumes: OUT.partial journals each sampled batch (other settings start afresh).
    journal = Journal(journal_beside(out), discard=True, settings=dict(
        model_dir=str(model_dir.resolve()), prompts=hashlib.sha256(json.dumps(texts).encode()).hexdigest(), n=n,
        temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, backend=backend, seed=seed))
    results = complete(model, tokenizer, texts, n, temperature, max_new_tokens, top_p=top_p, seed=seed, backend=backend,
                       show_progress=True, journal=journal)
    with atomic_file(out) as stream:
        for prompt, per_prompt in zip(texts, results):
            for done in per_prompt:
                record = {"prompt": prompt, "completion": done.text, "tokens": done.tokens, "logprobs": done.logprobs,
                          "finish_reason": done.finish_reason}
                stream.write(json.dumps(record) + "\n")
    journal.finish()
    console.print(f"wrote {len(texts) * n} samples to {out}")


@app.command("eval")
def eval_command(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="a local HF causal-LM folder with its tokenizer"),
    task_name: str = typer.Option(..., "--task", help="task whose verifier grades the samples"),
    problems: int = typer.Option(200, help="held-out problems to grade"),
    samples: int = typer.Option(1, help="samples per problem"),
    k: str = typer.Option("1", "--k", help="comma-separated k for pass@k and maj@k, e.g. 1,8,64"),
    temperature: Optional[float] = typer.Option(None, help="sampling temperature (default: 0 for one sample, else 1)"),
    data: Optional[Path] = typer.Option(None, help="dataset folder to take problems from (default: the run's own)"),
    split: str = typer.Option("test", help="split of the dataset folder"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP + " (when problems are generated)"),
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens", help="tokens to generate at most"),
    out: Optional[Path] = typer.Option(None, help="folder for eval.json, predictions.jsonl and the plot"),
    seed: int = typer.Option(0, help="random seed"),
    baseline: Optional[Path] = typer.Option(
        None, metavar="DIR", help="a second model (e.g. before RL) graded on the same problems and samples, in the same plot"
    ),
) -> None:
    """Accuracy, unbiased pass@k and maj@k by difficulty, graded by the task's verifier."""
    from arborlab.evaluate import run_eval

    ks = _parse_ks(k)
    report = run_eval(model_dir, task_name, problems, samples, ks, temperature, data, split, parse_difficulty(difficulty),
                      max_new_tokens, out, seed, baseline=baseline)
    for label, figures in (("", report), ("baseline: ", report.get("baseline", {}))):
        if figures:
            shown = ", ".join(f"{name} {figures[name]:.1%}" for name in figures if name == "accuracy" or "@" in name)
            console.print(f"{label}{task_name}: {shown} on {figures['n']} problems")
    console.print(f"wrote {report['out']}")


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        ks = []
    if not ks or ks[0] < 1:
        raise ArborError(f"--k takes positive integers separated by commas, e.g. 1,8,64; got '{text}'.")
    return ks


study_app = typer.Typer(help="Packaged experiments (long: tens of minutes to hours), each writing a report.", no_args_is_help=True)
app.add_typer(study_app, name="study")


@study_app.command("styles")
def study_styles(
    out: Path = typer.Option(Path("runs/study-styles"), help="study folder (rerun to resume)"),
    token_budget: Optional[int] = typer.Option(None, help="training tokens per trace style", show_default="about the demo's"),
    preset: Optional[str] = typer.Option(None, help="model size preset", show_default="the demo's"),
    eval_problems: int = typer.Option(300, help="problems graded, held out and harder each"),
) -> None:
    """Search vs optimal-path (cot) vs direct traces at an equal token budget, on held-out and harder problems."""
    from arborlab.studies.trace_styles import StylesStudy, run_styles_study

    if (token_budget is not None and token_budget < 1) or eval_problems < 1:
        raise ArborError("--token-budget and --eval-problems must be at least 1.")
    given = {"token_budget": token_budget, "preset": preset}
    study = StylesStudy(eval_problems=eval_problems, **{k: v for k, v in given.items() if v is not None})
    results = run_styles_study(study, out)
    for r in results:
        console.print(f"{r['style']:>7}: held out {r['heldout_accuracy']:.1%}, harder {r['harder_accuracy']:.1%} "
                      f"({r['train_tokens'] / 1e6:.2f}M tokens, {r['train_seconds']:.0f} s)")
    console.print(f"report: {out / 'report.html'}")


@study_app.command("sos")
def study_sos(
    out: Path = typer.Option(Path("runs/study-sos"), help="study folder (rerun to resume)"),
    minutes: str = typer.Option("15,60", help="training budgets in minutes of this machine, comma-separated"),
    orders: str = typer.Option("dfs,bfs,best-first", help="search orders of the traces, comma-separated"),
    preset: str = typer.Option("1m", help="model size preset"),
    eval_problems: int = typer.Option(300, help="problems graded with seen and with unseen targets, each"),
) -> None:
    """Countdown-4 in Stream-of-Search's setting (10% of targets unseen) by search order and budget."""
    from arborlab.studies.sos_countdown import SoSStudy, run_sos_study
    from arborlab.tasks.base import SEARCH_ORDERS

    try:
        budgets = tuple(float(m) for m in minutes.split(",") if m.strip())
    except ValueError:
        budgets = ()
    if not budgets or min(budgets) <= 0:
        raise ArborError(f"--minutes takes positive numbers separated by commas, e.g. 15,60; got '{minutes}'.")
    chosen = tuple(o.strip() for o in orders.split(",") if o.strip())
    if not chosen or any(o not in SEARCH_ORDERS for o in chosen):
        raise ArborError(f"--orders takes some of {', '.join(SEARCH_ORDERS)}, comma-separated; got '{orders}'.")
    results = run_sos_study(SoSStudy(minutes=budgets, orders=chosen, preset=preset, eval_problems=eval_problems), out)
    for r in results:
        console.print(f"{r['order']:>10}, {r['budget_minutes']:g} min: seen {r['seen_accuracy']:.1%}, unseen {r['unseen_accuracy']:.1%}")
    console.print(f"report: {out / 'report.html'}")


@study_app.command("tts")
def study_tts(
    out: Path = typer.Option(Path("runs/study-tts"), help="study folder (rerun to resume)"),
    model: Optional[Path] = typer.Option(None, "--model", help="an existing policy folder (e.g. runs/demo/final); default: train one on the demo's settings"),
    train_steps: Optional[int] = typer.Option(None, help="SFT steps of the policy trained without --model (default: the demo's)"),
    budgets: str = typer.Option("1,2,4,8,16", help="budgets N, comma-separated; at least one above 1"),
    problems: Optional[int] = typer.Option(None, help="problems in each of the validation and test splits (default 100)"),
    bins: Optional[int] = typer.Option(None, help="difficulty bins, by the policy's own pass rate (default 4)"),
    difficulty_samples: Optional[int] = typer.Option(None, "--difficulty-samples", help="samples per problem to estimate its pass rate (default 16)"),
    prm_problems: Optional[int] = typer.Option(None, "--prm-problems", help="training problems of the PRM (default 400)"),
    prm_steps: Optional[int] = typer.Option(None, "--prm-steps", help="optimizer steps of the PRM (default 300)"),
    beam_width: Optional[int] = typer.Option(None, "--beam-width", help="M: children per kept beam (default 4)"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="completion tokens at most (default: the demo's 640)"),
    task_name: Optional[str] = typer.Option(None, "--task", help="task of the policy (default countdown)"),
    difficulty: list[str] = typer.Option([], "--difficulty", "-d", help=DIFFICULTY_HELP + " (default: the demo's, countdown with 3 numbers)"),
    seed: Optional[int] = typer.Option(None, help="random seed (default 0)"),
) -> None:
    """Test-time compute: self-consistency, PRM beam search vs best-of-N, compute-optimal, against the published findings."""
    from arborlab.search.cli import _budgets
    from arborlab.studies.tts_scaling import TTSStudy, findings_table, run_tts_study

    chosen = dict(model_dir="" if model is None else str(model), train_steps=train_steps, budgets=tuple(_budgets(budgets)),
                  n_problems=problems, bins=bins, difficulty_samples=difficulty_samples, prm_problems=prm_problems,
                  prm_steps=prm_steps, beam_width=beam_width, max_new_tokens=max_new_tokens, task=task_name,
                  difficulty=parse_difficulty(difficulty) if difficulty else None, seed=seed)
    result = run_tts_study(TTSStudy(**{k: v for k, v in chosen.items() if v is not None}), out)
    console.print(findings_table(result["findings"]))
    console.print(f"report: {out / 'report.html'}\nfindings: {out / 'findings.json'}")


app.command("search")(search_command)
app.command("scaling")(scaling_command)


@app.command("demo")
def demo(
    task_name: str = typer.Option("countdown", "--task", help="task to demonstrate"),
    out: Path = typer.Option(Path("runs/demo"), help="run folder to write"),
    quick: bool = typer.Option(False, help="a short version (what the tests run)"),
    seed: int = typer.Option(0, help="random seed"),
) -> None:
    """The main job: the whole path on one task, on embedded defaults."""
    from arborlab.demo import run_demo

    run_demo(task_name, out, quick=quick, seed=seed, console=console)


from arborlab.interp.cli import interp_app  # noqa: E402
app.add_typer(interp_app, name="interp")


def main() -> None:
    """Entry point: user errors become one red sentence and exit code 1, with no traceback."""
    try:
        app()
    except ArborError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)  # brackets in it are text
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
