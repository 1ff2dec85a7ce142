"""Supervised fine-tuning (SFT) of a toy model on a task's traces, from scratch.

A small, readable loop (nanoGPT-style) over an ordinary HF causal LM: completion-only loss, AdamW
with linear warmup and cosine decay, gradient clipping, length-grouped batches, periodic held-out
evaluation through the task's verifier, checkpoints that resume the same curve after a ``kill -9``,
``metrics.jsonl``, plots and a report. Under ``torchrun`` it trains data-parallel (DDP, gloo).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
from transformers import LlamaForCausalLM

from arborlab.data import make_dataset
from arborlab.errors import ArborError
from arborlab.evaluate import evaluate_rows
from arborlab.io import atomic_file
from arborlab.models import NUMBER_INITS, init_number_embeddings, make_config, save_model
from arborlab.progress import progress_bar
from arborlab.runs import RunFolder, check_numbers, config_from_dict, start_run
from arborlab.tasks import get_task
from arborlab.tokenizer import NUMBER_STYLES, build_tokenizer
from arborlab.train import distributed
from arborlab.train.batches import Example, batch_order, collate, encode_example, prompt_text, repeat_long, result_weights
from arborlab.train.checkpoints import load_checkpoint, save_checkpoint
from arborlab.train.drill import drill_examples, trace_equations
from arborlab.train.ema import weight_average
from arborlab.train.optimizers import OPTIMIZERS, CosineSchedules, build_optimizers
from arborlab.train.time_budget import StepClock

PREDICTIONS_FILE = "predictions.jsonl"  # the final held-out answers, in `arbor tasks score`'s input format


@dataclass
class SFTConfig:
    """Everything an SFT run needs; written to the run's config.toml."""

    task: str = "countdown"
    style: str = "search"
    order: str = "dfs"
    difficulty: dict[str, Any] = field(default_factory=dict)
    n_problems: int = 20_000  # distinct problems in the dataset made for the run
    data_dir: str = ""  # an existing dataset folder instead (train/val/test.parquet)
    preset: str = "3m"
    model: dict[str, Any] = field(default_factory=dict)  # LlamaConfig fields overriding the preset
    numbers: str = "whole"  # tokenizer: "whole" (one token per integer 0-999) or "digits" (one per digit)
    number_init: str = "random"  # "digits": integer tokens start from embeddings that spell their digits
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 3e-3
    optimizer: str = "adamw"  # or "muon": Muon on the hidden weight matrices, AdamW on the rest (train/optimizers.py)
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_steps: int = 2000
    token_budget: int = 0  # when > 0: train on about this many tokens (max_steps follows from the mean length)
    # when > 0: seconds of training (evaluations not counted); at the end of warmup the measured
    # step time fixes max_steps, re-fitted to the pace on the way (written back to config.toml, so
    # a resumed run keeps it; see train/time_budget.py)
    time_budget: float = 0.0
    grad_clip: float = 1.0
    log_every: int = 20
    eval_every: int = 500
    eval_problems: int = 200  # validation problems graded at each evaluation
    final_eval_problems: int = 1000  # test problems graded at the end
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    bf16: bool = False  # bf16 autocast (fast only on CPUs with native bf16)
    max_new_tokens: int = 512
    max_length: int = 1024  # training examples longer than this many tokens are left out
    drill_share: float = 0.0  # share of training examples that are arithmetic drill sheets (see train/drill.py)
    drill_per_sheet: int = 20  # equations per drill sheet
    result_weight: float = 1.0  # loss factor on the tokens of equation results (after "="; see batches.result_weights)
    # training examples of at least `long_example_tokens` tokens appear `long_example_repeats` times
    # in each epoch (see batches.repeat_long); 0 or 1 turns it off
    long_example_tokens: int = 0
    long_example_repeats: int = 1
    # when > 0: an exponential moving average of the weights with this decay (train/ema.py) is what
    # the evaluations grade and the run saves; 0 uses the last step's weights
    ema_decay: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SFTConfig":
        return config_from_dict(cls, values, "SFT")


def train_sft(config: SFTConfig, out: Path | str, resume: bool = False, overwrite: bool = False, show_progress: bool = True) -> dict:
    """Train (or resume) an SFT run in `out`; returns the final evaluation."""
    run = RunFolder(out)
    rank, world = distributed.setup()
    config = start_run(run, config, resume, overwrite, check_sft_config, writer=rank == 0, sync=distributed.barrier)
    data_dir = _dataset(config, run, rank)
    distributed.barrier()

    rows = {split: pq.read_table(Path(data_dir) / f"{split}.parquet").to_pylist() for split in ("train", "val", "test")}
    saved_steps = run.checkpoint_steps() if resume else []
    steps_done = saved_steps[-1] if saved_steps else 0
    if steps_done:
        model, tokenizer, state = load_checkpoint(run, steps_done)
    else:
        tokenizer = build_tokenizer((prompt_text(r["prompt"]) + r["completion"] for r in rows["train"]), config.numbers)
        torch.manual_seed(config.seed)
        model = LlamaForCausalLM(
            make_config(
                config.preset,
                vocab_size=len(tokenizer),
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                **config.model,
            )
        )
        init_number_embeddings(model, tokenizer, config.number_init)
    encoded = [encode_example(tokenizer, r["prompt"], r["completion"]) for r in rows["train"]]
    examples = examples_that_fit(encoded, config.max_length, getattr(model.config, "max_position_embeddings", None))
    if config.long_example_tokens > 0 and config.long_example_repeats > 1:
        examples = repeat_long(examples, config.long_example_tokens, config.long_example_repeats)
    if config.drill_share > 0:
        n_sheets = round(len(examples) * config.drill_share / (1 - config.drill_share))
        equations = trace_equations(r["completion"] for r in rows["train"])
        examples += drill_examples(tokenizer, equations, n_sheets, config.drill_per_sheet, config.seed)
    if config.result_weight != 1.0:
        examples = _weigh_results(examples, tokenizer, config.result_weight)
    lengths = [len(e.ids) for e in examples]
    if config.token_budget > 0:  # equal-token comparisons: the steps that consume the budget
        config.max_steps = max(1, round(config.token_budget * len(lengths) / (sum(lengths) * config.batch_size)))

    optimizer = build_optimizers(model, config.optimizer, config.learning_rate, config.weight_decay)
    schedule = CosineSchedules(optimizer, config.warmup_steps, config.max_steps)
    averaged = weight_average(model, config.ema_decay) if config.ema_decay > 0 else None
    graded = averaged.module if averaged is not None else model  # what evaluations grade and the run saves
    if steps_done:
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if averaged is not None:
            averaged.load_state_dict(state["ema"])
        if rank == 0:
            run.keep_metrics_until(steps_done)
    trained = distributed.wrap(model)

    n_batches = math.ceil(len(examples) / config.batch_size)
    order, order_epoch = [], -1
    window = {"loss": 0.0, "tokens": 0, "target_tokens": 0, "started": time.perf_counter()}
    clock = StepClock(config, steps_done, world)
    model.train()
    with progress_bar("sft", total=config.max_steps, enabled=show_progress and rank == 0, unit="steps") as advance:
        advance(steps_done)
        step = steps_done
        while step < config.max_steps:  # a time budget may fix max_steps during the run
            step += 1
            epoch, position = divmod(step - 1, n_batches)
            if epoch != order_epoch:  # one shuffle per epoch, not per step
                order, order_epoch = batch_order(lengths, config.batch_size, config.seed, epoch), epoch
            clock.start()
            batch_indices = order[position]
            local = distributed.shard(batch_indices, rank, world)
            batch = collate([examples[i] for i in local], tokenizer.pad_token_id)
            loss, summed, target_tokens = completion_loss(trained, batch, config.bf16, world)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            if averaged is not None:
                averaged.update_parameters(model)
            if (fixed := clock.stop(step)) is not None:  # the time budget now fixes the run's length
                config.max_steps = fixed["max_steps"]
                schedule = CosineSchedules(optimizer, config.warmup_steps, config.max_steps, last_epoch=step - 1)
                advance(0, total=config.max_steps)
                if rank == 0:
                    run.write_config(dataclasses.asdict(config))
                    run.append_metrics({"step": step, **fixed})

            window["loss"] += summed
            window["target_tokens"] += target_tokens
            window["tokens"] += int(batch["attention_mask"].sum())
            advance(1)
            record: dict[str, Any] = {}
            if step % config.log_every == 0 or step == config.max_steps:
                record = _log_window(window, step, schedule.get_last_lr()[0], float(grad_norm), world)
            if rank == 0 and (step % config.eval_every == 0 and step != config.max_steps):
                record = {"step": step, **record, **_evaluate(graded, tokenizer, config, rows["val"][: config.eval_problems], "val")[0]}
                window["started"] = time.perf_counter()  # evaluation time is not training time
            if rank == 0 and record:
                run.append_metrics(record)
            if rank == 0 and step % config.checkpoint_every == 0 and step != config.max_steps:
                state = {"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict()}
                if averaged is not None:
                    state["ema"] = averaged.state_dict()
                save_checkpoint(run, model, tokenizer, state, step, config.keep_checkpoints)
            distributed.barrier()

    result = {}
    if rank == 0:
        save_model(graded, tokenizer, run.final, overwrite=True)
        result, predictions = _evaluate(graded, tokenizer, config, rows["test"][: config.final_eval_problems], "test")
        run.append_metrics({"step": config.max_steps, **result})
        with atomic_file(run.path / PREDICTIONS_FILE) as stream:
            stream.writelines(json.dumps(p) + "\n" for p in predictions)
        result["predictions"] = str(run.path / PREDICTIONS_FILE)
        from arborlab.train.report import write_sft_report

        write_sft_report(run, config)
    distributed.teardown()
    return result


class ExamplesDoNotFit(ArborError):
    """Most training examples are longer than `max_length` (see `examples_that_fit`)."""


def examples_that_fit(encoded: list, max_length: int, positions: int | None) -> list:
    """The examples of at most `max_length` tokens. Refuses a run that would leave most of its data
    out: training on the few examples that fit (the shortest problems) quietly teaches something
    else than the dataset."""
    if not encoded:  # an empty training split (then the counts below would divide by zero)
        raise ExamplesDoNotFit(f"no training example fits in max_length {max_length} tokens.")
    kept = [e for e in encoded if len(e.ids) <= max_length]
    if 2 * len(kept) >= len(encoded):
        return kept
    median = sorted(len(e.ids) for e in encoded)[len(encoded) // 2]
    room = f" (the model has {positions:,} positions)" if positions else ""
    raise ExamplesDoNotFit(
        f"only {len(kept):,} of the {len(encoded):,} training examples ({len(kept) / len(encoded):.2%}) fit in "
        f"max_length {max_length:,} tokens, and their median length is {median:,}: raise max_length{room} or use "
        "shorter traces."
    )


def _weigh_results(examples: list[Example], tokenizer, weight: float) -> list[Example]:
    """The examples with `weight` on their equation results' tokens."""
    vocabulary = tokenizer.get_vocab()
    if "=" not in vocabulary:
        raise ArborError("result_weight needs equations ('a op b=c') in the traces; this task's have no '='.")
    numbers = {index for piece, index in vocabulary.items() if piece[:1].isdigit()}
    return [dataclasses.replace(e, weights=result_weights(e.ids, vocabulary["="], numbers, weight)) for e in examples]


def check_sft_config(config: SFTConfig) -> None:
    """Validate (and type the difficulty of) a new run's settings before anything is written.

    Studies that train several runs call it on each run's config before their first work."""
    task = get_task(config.task)
    config.difficulty = task.difficulty(config.difficulty)
    if not config.data_dir:
        task.check_trace_style(config.style, config.order)
        if config.n_problems < 1:
            raise ArborError(f"n_problems must be at least 1, got {config.n_problems}.")
    make_config(config.preset, 1, **config.model)  # an unknown preset or LlamaConfig setting, before any work
    check_numbers(config, at_least_one=("batch_size", "max_steps", "log_every", "eval_every", "checkpoint_every",
                                        "keep_checkpoints", "max_new_tokens", "max_length"),
                  at_least_zero=("warmup_steps", "token_budget", "weight_decay"), positive=("learning_rate", "grad_clip"))
    if config.number_init not in NUMBER_INITS:
        raise ArborError(f"number_init must be one of {', '.join(NUMBER_INITS)}, got '{config.number_init}'.")
    if config.numbers not in NUMBER_STYLES:
        raise ArborError(f"numbers must be one of {', '.join(NUMBER_STYLES)}, got '{config.numbers}'.")
    if config.time_budget < 0 or (config.time_budget > 0 and config.token_budget > 0):
        raise ArborError(f"time_budget must be at least 0 and not set together with token_budget, got {config.time_budget} and {config.token_budget}.")
    if config.eval_problems < 1 or config.final_eval_problems < 1:
        raise ArborError(f"eval_problems and final_eval_problems must be at least 1, got {config.eval_problems} and {config.final_eval_problems}.")
    if config.optimizer not in OPTIMIZERS:
        raise ArborError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{config.optimizer}'.")
    if not 0 <= config.ema_decay < 1:
        raise ArborError(f"ema_decay must be in [0, 1), got {config.ema_decay}.")
    if config.long_example_tokens < 0 or config.long_example_repeats < 1:
        raise ArborError(f"long_example_tokens must be at least 0 and long_example_repeats at least 1, got {config.long_example_tokens} and {config.long_example_repeats}.")
    if config.result_weight <= 0:
        raise ArborError(f"result_weight must be above 0, got {config.result_weight}.")
    if not 0 <= config.drill_share < 1 or config.drill_per_sheet < 1:
        raise ArborError(f"drill_share must be in [0, 1) and drill_per_sheet at least 1, got {config.drill_share} and {config.drill_per_sheet}.")


def train_or_resume(config: SFTConfig, out: Path | str, show_progress: bool = True) -> dict:
    """Train `config` into `out`, or continue the interrupted run there (same config) from its last checkpoint."""
    run = RunFolder(out)
    resume = run.config_path.is_file() and not run.final.exists() and bool(run.checkpoint_steps())
    return train_sft(config, out, resume=resume, overwrite=not resume, show_progress=show_progress)


def _dataset(config: SFTConfig, run: RunFolder, rank: int) -> str:
    """The dataset folder: the configured one, or one made inside the run folder once."""
    if config.data_dir:
        if not (Path(config.data_dir) / "train.parquet").is_file():
            raise ArborError(f"{config.data_dir} has no train.parquet; make one with 'arbor tasks make-dataset'.")
        return config.data_dir
    folder = run.path / "data"
    if rank == 0 and not (folder / "test.parquet").is_file():
        make_dataset(config.task, config.n_problems, config.style, folder, config.seed, config.difficulty, config.order, overwrite=True)
    return str(folder)


def completion_loss(model, batch: dict[str, torch.Tensor], bf16: bool, world: int) -> tuple[torch.Tensor, float, int]:
    """The loss to backpropagate, and this rank's summed loss and number of target tokens.

    The loss is this rank's token-summed cross-entropy over the global batch's target-token count,

    times the world size, so DDP's gradient average equals the gradient of the global token mean:
    the same losses and updates as one process on the whole batch.
    """
    labels = batch["labels"]
    # Right padding under a causal mask never reaches a real token, so no attention mask is passed:
    # that lets SDPA take its fused causal kernel (about 2x faster here, and far less memory).
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"]).logits
    shifted_logits, shifted_labels = logits[:, :-1].float(), labels[:, 1:]
    flat_logits, flat_labels = shifted_logits.reshape(-1, shifted_logits.size(-1)), shifted_labels.reshape(-1)
    if "loss_weights" in batch:  # per-token factors (equation results weighed more, say); the log keeps the plain sum
        per_token = torch.nn.functional.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="none")
        summed, logged = (per_token * batch["loss_weights"][:, 1:].reshape(-1)).sum(), per_token.detach().sum().item()
    else:
        summed = torch.nn.functional.cross_entropy(flat_logits, flat_labels, ignore_index=-100, reduction="sum")
        logged = summed.item()
    local_tokens = int((shifted_labels != -100).sum())
    global_tokens = distributed.all_sum(local_tokens)
    return summed * world / global_tokens, logged, local_tokens


def _log_window(window: dict, step: int, lr: float, grad_norm: float, world: int) -> dict:
    seconds = time.perf_counter() - window["started"]
    tokens = distributed.all_sum(window["tokens"])
    summed, target_tokens = distributed.all_sum(window["loss"]), distributed.all_sum(window["target_tokens"])
    record = {
        "step": step,
        "loss": summed / max(target_tokens, 1),
        "lr": lr,
        "grad_norm": grad_norm,
        "tokens_per_second": tokens / max(seconds, 1e-9),
        "tokens": tokens,  # trained on in this window (all ranks)
        "seconds": round(seconds, 3),  # the window's training time (evaluations excluded)
    }
    window.update(loss=0.0, tokens=0, target_tokens=0, started=time.perf_counter())
    return record


def _evaluate(model, tokenizer, config: SFTConfig, rows: list[dict], split: str) -> tuple[dict, list[dict]]:
    """Greedy accuracy on `rows` (metrics named after `split`) and the graded predictions."""
    model.eval()
    report = evaluate_rows(model, tokenizer, config.task, rows, max_new_tokens=config.max_new_tokens)
    model.train()
    figures = {f"{split}_accuracy": report["accuracy"], f"{split}_n": report["n"], f"{split}_by_difficulty": report["by_difficulty"]}
    return figures, report["predictions"]

