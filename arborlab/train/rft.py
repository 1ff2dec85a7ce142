"""Self-improvement by rejection-sampling fine-tuning (RFT; Yuan et al. 2023) and STaR (Zelikman et al. 2022).

Each round samples `samples` completions of `problems_per_round` training problems from the current
model, keeps the ones the task's verifier accepts (at most `keep_per_problem` distinct ones per
problem), optionally *rationalizes* problems with no correct sample (STaR: sample again with the
right answer shown after the prompt, keep verified completions, but train on them under the plain
prompt), and fine-tunes on what it kept with SFT's completion-only loss: from the initial model
each round (``restart``, as STaR and ReST-EM do) or continuing. Held-out problems (test split) are
graded greedily before the first round and after each. A round's checkpoint is
``checkpoints/step-R``; a killed run resumes at the next round, on the same random stream.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from arborlab.completions import complete
from arborlab.errors import ArborError
from arborlab.io import atomic_file
from arborlab.models import load_model, save_model
from arborlab.progress import progress_bar
from arborlab.runs import RunFolder, check_numbers, config_from_dict, start_run
from arborlab.tasks import get_task
from arborlab.text import ANSWER_CLOSE, ANSWER_OPEN
from arborlab.train.batches import batch_order, collate, encode_example
from arborlab.train.checkpoints import load_checkpoint, save_checkpoint
from arborlab.train.curriculum import split_problems
from arborlab.train.grpo import SUMMARY_FILE, heldout_accuracy, heldout_rows, plot_metrics, prepare_from_model
from arborlab.train.sft import completion_loss


@dataclass
class RFTConfig:
    """Everything an RFT / STaR run needs; written to the run's config.toml."""

    init: str = ""  # the model folder to improve (e.g. an SFT run's final/)
    task: str = "countdown"
    difficulty: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    rounds: int = 3
    problems_per_round: int = 256
    pool_size: int = 2000  # training problems the rounds draw from
    samples: int = 8  # k completions per problem
    temperature: float = 1.0
    max_new_tokens: int = 128
    keep_per_problem: int = 4  # distinct correct completions kept per problem
    rationalize: bool = False  # STaR: retry unsolved problems with the answer as a hint
    restart: bool = True  # fine-tune the initial model each round (STaR) instead of continuing
    steps_per_round: int = 100
    batch_size: int = 32
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_problems: int = 200
    keep_checkpoints: int = 2

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RFTConfig":
        return config_from_dict(cls, values, "RFT")

    def check(self) -> None:
        if not self.init:
            raise ArborError("RFT needs a model to improve: give --init MODEL_DIR (e.g. an SFT run's final folder).")
        if self.temperature <= 0:
            raise ArborError(f"RFT samples, so temperature must be positive, got {self.temperature}.")
        check_numbers(self, at_least_one=("rounds", "problems_per_round", "samples", "keep_per_problem", "steps_per_round",
                                          "batch_size", "pool_size", "max_new_tokens", "eval_problems", "keep_checkpoints"),
                      at_least_zero=("weight_decay",), positive=("learning_rate", "grad_clip"))


def train_rft(config: RFTConfig, out: Path | str, resume: bool = False, overwrite: bool = False, show_progress: bool = True) -> dict:
    """Run (or resume) RFT in `out`; returns the summary (also in summary.json)."""
    run = RunFolder(out)
    config = start_run(run, config, resume, overwrite, prepare_from_model)
    task = get_task(config.task)
    pool = split_problems(task, config.pool_size, "train", config.seed, config.difficulty)
    if config.problems_per_round > len(pool):
        raise ArborError(f"problems_per_round {config.problems_per_round} exceeds the pool of {len(pool)}; raise pool_size.")
    heldout = heldout_rows(task, config.eval_problems, config.seed, config.difficulty)
    saved = run.checkpoint_steps()
    done = saved[-1] if saved else 0
    if done:
        model, tokenizer, _ = load_checkpoint(run, done)
        run.keep_metrics_until(done)
    else:
        model, tokenizer = load_model(config.init)
        if tokenizer is None:
            raise ArborError(f"{config.init} has no tokenizer; save one beside the model.")
        run.append_metrics({"step": 0, "heldout_accuracy": heldout_accuracy(model, tokenizer, config.task, heldout, config.max_new_tokens)})

    with progress_bar("rft", total=config.rounds, enabled=show_progress, unit="rounds") as advance:
        advance(done)
        for round_ in range(done + 1, config.rounds + 1):
            started = time.perf_counter()
            problems = random.Random(f"rft:{config.seed}:{round_}").sample(pool, config.problems_per_round)
            kept, record = collect(model, tokenizer, task, problems, config, round_)
            if config.restart:
                model = load_model(config.init)[0]
            record.update(fine_tune(model, tokenizer, kept, config, round_) if kept else {})
            record["heldout_accuracy"] = heldout_accuracy(model, tokenizer, config.task, heldout, config.max_new_tokens)
            record.update(step=round_, seconds=time.perf_counter() - started)
            run.append_metrics(record)
            save_checkpoint(run, model, tokenizer, {}, round_, config.keep_checkpoints)
            advance(1, f"kept {record['kept']} held-out {record['heldout_accuracy']:.2f}")

    save_model(model, tokenizer, run.final, overwrite=True)
    accuracies = [m["heldout_accuracy"] for m in run.read_metrics() if "heldout_accuracy" in m]
    summary = {"heldout_accuracy_before": accuracies[0], "heldout_accuracy_after": accuracies[-1], "heldout_n": len(heldout),
               "heldout_by_round": accuracies, "model_dir": str(run.final)}
    with atomic_file(run.path / SUMMARY_FILE) as stream:
        stream.write(json.dumps(summary, indent=2))
    write_rft_report(run, config, summary)
    return summary


def collect(model, tokenizer, task, problems: list[dict], config: RFTConfig, round_: int) -> tuple[list[tuple[str, str]], dict]:
    """Verified (prompt, completion) pairs from sampling `problems`, and the round's sampling figures.

    With `rationalize`, problems with no correct sample are sampled again with the answer after
    the prompt; their verified completions are kept under the plain prompt.
    """
    prompts = [task.prompt(p) for p in problems]
    sampled = complete(model, tokenizer, prompts, config.samples, config.temperature, config.max_new_tokens,
                       seed=config.seed * 1_000_003 + round_)
    kept: list[tuple[str, str]] = []
    unsolved = []
    correct_samples = 0
    for problem, prompt, group in zip(problems, prompts, sampled):
        correct = _verified(task, problem, group)
        correct_samples += len(correct)
        kept += [(prompt, text) for text in correct[: config.keep_per_problem]]
        if not correct:
            unsolved.append(problem)
    record = {"sample_accuracy": correct_samples / (len(problems) * config.samples),
              "solved_share": 1 - len(unsolved) / len(problems), "rationalized": 0}
    if config.rationalize and unsolved:
        hinted = [f"{task.prompt(p)} {ANSWER_OPEN}{task.solve(p)}{ANSWER_CLOSE}" for p in unsolved]
        retried = complete(model, tokenizer, hinted, config.samples, config.temperature, config.max_new_tokens,
                           seed=config.seed * 1_000_003 + round_ + 500_000)
        for problem, group in zip(unsolved, retried):
            correct = _verified(task, problem, group)
            record["rationalized"] += bool(correct)
            kept += [(task.prompt(problem), text) for text in correct[: config.keep_per_problem]]
    record["kept"] = len(kept)
    return kept, record


def _verified(task, problem: dict, group: list) -> list[str]:
    """The distinct completion texts of `group` that the verifier accepts, in sampling order."""
    texts = dict.fromkeys(c.text for c in group)
    return [text for text in texts if task.verify(problem, text).correct]


def fine_tune(model, tokenizer, kept: list[tuple[str, str]], config: RFTConfig, round_: int) -> dict[str, float]:
    """`steps_per_round` AdamW steps of completion-only loss on the kept examples; their mean loss."""
    examples = [encode_example(tokenizer, prompt, completion) for prompt, completion in kept]
    lengths = [len(e.ids) for e in examples]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.95))
    batches: list[list[int]] = []
    epoch = 0
    model.train()
    total = 0.0
    for _ in range(config.steps_per_round):
        if not batches:  # a new epoch over the kept examples, in a (seed, round, epoch)-determined order
            batches = batch_order(lengths, config.batch_size, config.seed * 1_000_003 + round_, epoch)
            epoch += 1
        batch = collate([examples[i] for i in batches.pop()], tokenizer.pad_token_id)
        loss, _, _ = completion_loss(model, batch, bf16=False, world=1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total += loss.item()
    return {"loss": total / config.steps_per_round}


PLOTTED = {"heldout_accuracy": "held-out accuracy (greedy)", "sample_accuracy": "sample accuracy (training problems)",
           "solved_share": "problems with a verified sample", "kept": "examples kept", "rationalized": "solved only with the hint",
           "loss": "fine-tuning loss"}


def write_rft_report(run: RunFolder, config: RFTConfig, summary: dict) -> Path:
    """metrics.png and report.html of an RFT run."""
    from arborlab.report import image, table, write_report

    png = plot_metrics({"rft": run.read_metrics()}, PLOTTED, run.path / "metrics.png", x="step")
    sections = [
        ("held-out accuracy (greedy, test split) by round", table([{"round": r, "accuracy": a} for r, a in enumerate(summary["heldout_by_round"])])),
        ("rounds (step = round)", image(png)),
        ("configuration", table([{"setting": k, "value": v} for k, v in dataclasses.asdict(config).items()])),
    ]
    return write_report(run.path / "report.html", f"RFT run {run.path.name}", sections)
