"""GRPO on verifiable rewards: a small, readable loop over an ordinary HF causal LM.

Each step draws `prompts_per_step` training problems (uniformly or by learnability, at the
difficulty the schedule sets), samples `group_size` completions of each with our batched sampler
(which returns each token's log-probability under the sampling policy: π_old), scores them with
the task's verifier (`arborlab.rewards`), turns rewards into group-normalized advantages, and
takes `epochs_per_step` × `minibatches` clipped-ratio updates (`arborlab.train.grpo_loss`).
Held-out problems (the test split, by canonical hash) are graded greedily every `eval_every`
steps; pass@k before and after RL on the same problems, and the same run under control rewards,
go into the report. Checkpoints hold the optimizer, schedule, RNG and sampler state, so a run
killed with ``kill -9`` resumes on the same stream.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import get_constant_schedule_with_warmup

from arborlab.completions import complete
from arborlab.errors import ArborError
from arborlab.evaluate import evaluate_rows, plot_pass_at_k
from arborlab.io import atomic_file
from arborlab.models import load_model, save_model
from arborlab.progress import progress_bar
from arborlab.rewards import KINDS, Rewarder
from arborlab.runs import RunFolder, check_numbers, config_from_dict, start_run
from arborlab.tasks import get_task
from arborlab.train.batches import prompt_ids
from arborlab.train.checkpoints import load_checkpoint, save_checkpoint
from arborlab.train.curriculum import ProblemSampler, difficulty_at, split_problems
from arborlab.train.grpo_loss import AGGREGATIONS, group_advantages, grpo_loss

SUMMARY_FILE = "summary.json"


@dataclass
class GRPOConfig:
    """Everything a GRPO run needs; written to the run's config.toml."""

    init: str = ""  # the model folder RL starts from (e.g. an SFT run's final/)
    task: str = "countdown"
    difficulty: dict[str, Any] = field(default_factory=dict)
    difficulty_schedule: list[dict[str, Any]] = field(default_factory=list)  # [{step = 50, n_numbers = 3}, ...]
    sampling: str = "uniform"  # uniform, or learnability: weight p(1 - p)
    pool_size: int = 2000  # training problems per difficulty
    seed: int = 0
    max_steps: int = 100
    prompts_per_step: int = 8
    group_size: int = 8  # completions per prompt
    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    epochs_per_step: int = 1  # inner PPO epochs over each step's rollouts
    minibatches: int = 1  # optimizer updates per inner epoch
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    loss_aggregation: str = "sequence"  # sequence (GRPO), token (DAPO) or constant (Dr. GRPO)
    scale_advantages: bool = True  # divide by the group std (False: Dr. GRPO)
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2  # above epsilon_low: DAPO's clip-higher (e.g. 0.28)
    beta: float = 0.0  # weight of the k3 KL to the initial model
    kl_importance_weight: bool = False  # weight the KL penalty by the ratio (DeepSeek-V3.2; TRL's default)
    track_kl: bool = True  # keep the initial model to log the KL even when beta is 0
    entropy_coef: float = 0.0
    top_entropy_quantile: float = 1.0  # < 1: the policy loss only on the highest-entropy tokens
    dynamic_sampling: bool = False  # drop groups whose advantages are all zero (DAPO)
    # with dynamic sampling: rounds of fresh prompts per step to refill the dropped groups, as DAPO
    # does (1: drop without refilling); the step trains on at most prompts_per_step groups
    dynamic_sampling_rounds: int = 3
    reward: str = "exact"  # see arborlab.rewards.KINDS
    format_weight: float = 0.0
    random_reward_p: float = 0.5
    eval_every: int = 25
    eval_problems: int = 200  # held-out problems graded greedily
    # samples per held-out problem at the training temperature, for the sampled pass@1 beside the
    # greedy accuracy at each evaluation (0: greedy only); RL moves the two differently
    eval_samples: int = 0
    passk_problems: int = 0  # held-out problems for pass@k before and after RL (0: none)
    passk_samples: int = 64  # samples per problem for pass@k (k = 1, 2, 4, ... up to this)
    checkpoint_every: int = 25
    keep_checkpoints: int = 2
    controls: list[str] = field(default_factory=list)  # the same run with these rewards, e.g. ["random", "negative_only"]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GRPOConfig":
        return config_from_dict(cls, values, "GRPO")

    def check(self) -> None:
        """Reject impossible settings with one sentence."""
        if not self.init:
            raise ArborError("GRPO needs a model to start from: give --init MODEL_DIR (e.g. an SFT run's final folder).")
        if self.loss_aggregation not in AGGREGATIONS:
            raise ArborError(f"loss_aggregation must be one of {', '.join(AGGREGATIONS)}, got '{self.loss_aggregation}'.")
        for kind in [self.reward, *self.controls]:
            if kind not in KINDS:
                raise ArborError(f"unknown reward '{kind}'; choose one of {', '.join(KINDS)}.")
        if self.group_size < 2 or self.prompts_per_step < 1 or self.max_steps < 1:
            raise ArborError("group_size must be at least 2, and prompts_per_step and max_steps at least 1.")
        if self.temperature <= 0:
            raise ArborError(f"GRPO samples, so temperature must be positive, got {self.temperature}.")
        if not 1 <= self.minibatches <= self.prompts_per_step * self.group_size or self.epochs_per_step < 1:
            raise ArborError("minibatches must be from 1 to the completions per step, and epochs_per_step at least 1.")
        if self.passk_problems > self.eval_problems or (self.passk_problems and self.passk_samples < 1):
            raise ArborError("passk_problems may not exceed eval_problems (they are the first of them), and passk_samples must be at least 1.")
        if not 0 < self.top_entropy_quantile <= 1:
            raise ArborError(f"top_entropy_quantile must be in (0, 1], got {self.top_entropy_quantile}.")
        if self.eval_samples < 0:
            raise ArborError(f"eval_samples must be 0 (greedy only) or more, got {self.eval_samples}.")
        if self.dynamic_sampling_rounds < 1:
            raise ArborError(f"dynamic_sampling_rounds must be at least 1, got {self.dynamic_sampling_rounds}.")
        if not 0 < self.top_p <= 1:
            raise ArborError(f"top_p must be in (0, 1], got {self.top_p}.")
        check_numbers(self, at_least_one=("pool_size", "max_new_tokens", "eval_every", "eval_problems", "checkpoint_every",
                                          "keep_checkpoints"),
                      at_least_zero=("warmup_steps", "weight_decay", "epsilon_low", "epsilon_high", "beta", "entropy_coef"),
                      positive=("learning_rate", "grad_clip"))


def prepare_from_model(config) -> None:
    """Checks of a run that improves an existing model (GRPO, RFT), made before its folder is written."""
    config.check()
    config.difficulty = get_task(config.task).difficulty(config.difficulty)
    load_model(config.init)  # fail before making the folder when it is not a model


def train_grpo(config: GRPOConfig, out: Path | str, resume: bool = False, overwrite: bool = False, show_progress: bool = True) -> dict:
    """Run (or resume) GRPO in `out`, then its control runs; returns the summary (also in summary.json)."""
    run = RunFolder(out)
    config = start_run(run, config, resume, overwrite, prepare_from_model)
    summary_path = run.path / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else _train(config, run, show_progress)
    for kind in config.controls:
        control = dataclasses.replace(config, reward=kind, controls=[])
        folder = run.path / "controls" / kind
        resumable = RunFolder(folder).config_path.is_file()
        train_grpo(control, folder, resume=resumable, overwrite=not resumable, show_progress=show_progress)
    write_grpo_report(run, config)
    return summary


def _train(config: GRPOConfig, run: RunFolder, show_progress: bool) -> dict:
    """The GRPO loop proper; writes final/, summary.json and the pass@k comparison."""
    task = get_task(config.task)
    rewarder = Rewarder(task, config.reward, config.format_weight, config.random_reward_p, config.seed)
    sampler = ProblemSampler(task, config.difficulty, config.difficulty_schedule, config.pool_size, config.sampling, config.seed)
    saved = run.checkpoint_steps()
    steps_done = saved[-1] if saved else 0
    if steps_done:
        model, tokenizer, state = load_checkpoint(run, steps_done)
    else:
        model, tokenizer = load_model(config.init)
        if tokenizer is None:
            raise ArborError(f"{config.init} has no tokenizer; save one beside the model.")
    model.train()
    reference = _frozen(load_model(config.init)[0]) if config.beta or config.track_kl else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.99))
    schedule = get_constant_schedule_with_warmup(optimizer, config.warmup_steps)
    if steps_done:
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        sampler.load_state_dict(state["sampler"])
        rewarder.rng.setstate(state["reward_rng"])
        run.keep_metrics_until(steps_done)
    heldout = heldout_rows(task, config.eval_problems, config.seed, task.difficulty(difficulty_at(config.max_steps, config.difficulty, config.difficulty_schedule)))
    if not steps_done:
        run.append_metrics({"step": 0, **_heldout_metrics(model, tokenizer, config, heldout)})

    with progress_bar("grpo", total=config.max_steps, enabled=show_progress, unit="steps") as advance:
        advance(steps_done)
        for step in range(steps_done + 1, config.max_steps + 1):
            record = grpo_step(model, tokenizer, optimizer, schedule, config, sampler, rewarder, reference, step)
            if step % config.eval_every == 0 or step == config.max_steps:
                record.update(_heldout_metrics(model, tokenizer, config, heldout))
            run.append_metrics(record)
            advance(1, f"reward {record['reward_mean']:.2f} acc {record['accuracy']:.2f} len {record['response_length']:.0f} "
                       f"{record['tokens_per_second']:,.0f} tok/s")
            if step % config.checkpoint_every == 0 and step != config.max_steps:
                state = {"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                         "sampler": sampler.state_dict(), "reward_rng": rewarder.rng.getstate()}
                save_checkpoint(run, model, tokenizer, state, step, config.keep_checkpoints)

    save_model(model, tokenizer, run.final, overwrite=True)
    metrics = run.read_metrics()
    accuracies = [m["heldout_accuracy"] for m in metrics if "heldout_accuracy" in m]
    summary = {"heldout_accuracy_before": accuracies[0], "heldout_accuracy_after": accuracies[-1], "heldout_n": len(heldout),
               "model_dir": str(run.final)}
    sampled = [m[SAMPLED_PASS1] for m in metrics if SAMPLED_PASS1 in m]
    if sampled:
        summary.update(heldout_pass1_before=sampled[0], heldout_pass1_after=sampled[-1], heldout_samples=config.eval_samples)
    if config.passk_problems:
        rows = heldout[: config.passk_problems]
        before = _pass_at_k(reference or load_model(config.init)[0], tokenizer, config, rows)
        summary["pass_at_k"] = {"before": before, "after": _pass_at_k(model, tokenizer, config, rows)}
    with atomic_file(run.path / SUMMARY_FILE) as stream:
        stream.write(json.dumps(summary, indent=2))
    return summary


def grpo_step(model, tokenizer, optimizer, schedule, config: GRPOConfig, sampler: ProblemSampler, rewarder: Rewarder, reference, step: int) -> dict[str, Any]:
    """One whole GRPO step (sample, score, advantages, log-probs, clipped updates); returns its metrics."""
    started = time.perf_counter()
    task, size = rewarder.task, config.group_size
    problems, prompts, groups, scores, rewards, advantages, kept = [], [], [], [], [], [], []
    rounds = config.dynamic_sampling_rounds if config.dynamic_sampling else 1
    for attempt in range(rounds):
        drawn = sampler.draw(step, config.prompts_per_step, attempt, exclude={task.problem_hash(p) for p in problems})
        drawn_prompts = [task.prompt(p) for p in drawn]
        drawn_groups = complete(model, tokenizer, drawn_prompts, size, config.temperature, config.max_new_tokens,
                                top_p=config.top_p, seed=config.seed * 1_000_003 + step + 7_919 * attempt,
                                batch_size=len(drawn) * size)
        drawn_scores = [rewarder.score_all([p] * size, [c.text for c in group]) for p, group in zip(drawn, drawn_groups)]
        for problem, group_scores in zip(drawn, drawn_scores):
            sampler.record(problem, size, sum(s.correct for s in group_scores))
        drawn_rewards = torch.tensor([[s.reward for s in group_scores] for group_scores in drawn_scores])  # [prompts, group_size]
        drawn_advantages = group_advantages(drawn_rewards, config.scale_advantages) if rewarder.baseline else drawn_rewards
        signal = ~(drawn_advantages == 0).all(dim=1)  # groups that carry a learning signal
        wanted = config.prompts_per_step - len(kept)
        kept += [len(groups) + g for g in range(len(drawn)) if signal[g] or not config.dynamic_sampling][:wanted]
        problems += drawn
        prompts += drawn_prompts
        groups += drawn_groups
        scores += drawn_scores
        rewards.append(drawn_rewards)
        advantages.append(drawn_advantages)
        if len(kept) >= config.prompts_per_step:
            break
    rewards, advantages = torch.cat(rewards), torch.cat(advantages)  # [prompts drawn, group_size]
    zero = (advantages == 0).all(dim=1)
    completions = [c for g in kept for c in groups[g]]
    record: dict[str, Any] = {
        "step": step,
        "reward_mean": rewards.mean().item(),
        "reward_std": rewards.std().item(),
        "accuracy": sum(s.correct for group_scores in scores for s in group_scores) / rewards.numel(),
        "response_length": sum(len(c.tokens) for group in groups for c in group) / rewards.numel(),
        "zero_advantage_share": zero.float().mean().item(),
        "groups_trained": len(kept),
        "sampling_rounds": attempt + 1,
    }
    if completions:
        batch = rollout_batch([prompt_ids(tokenizer, prompts[g]) for g in kept for _ in range(size)], completions,
                              advantages[kept].reshape(-1), tokenizer.pad_token_id)
        if reference is not None:
            with torch.no_grad():
                batch["ref_logprobs"] = token_logprobs(reference, batch["input_ids"], batch["start"], config.temperature)[0]
        record.update(_update(model, optimizer, schedule, config, batch, step))
    seconds = time.perf_counter() - started
    record.update(seconds=seconds, tokens_per_second=sum(len(c.tokens) for g in groups for c in g) / seconds, lr=schedule.get_last_lr()[0])
    return record


def _update(model, optimizer, schedule, config: GRPOConfig, batch: dict[str, Any], step: int) -> dict[str, float]:
    """`epochs_per_step` × `minibatches` optimizer updates on one step's rollouts; mean loss statistics."""
    n = len(batch["input_ids"])
    totals: dict[str, float] = {}
    updates = 0
    for epoch in range(config.epochs_per_step):
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step * 101 + epoch)
        order = torch.randperm(n, generator=generator) if config.minibatches > 1 else torch.arange(n)
        for rows in order.chunk(config.minibatches):
            logprobs, entropies = token_logprobs(model, batch["input_ids"][rows], batch["start"], config.temperature)
            loss, stats = grpo_loss(
                logprobs, batch["old_logprobs"][rows], batch["advantages"][rows], batch["mask"][rows],
                ref_logprobs=batch["ref_logprobs"][rows] if "ref_logprobs" in batch else None, beta=config.beta,
                kl_importance_weight=config.kl_importance_weight, epsilon_low=config.epsilon_low, epsilon_high=config.epsilon_high, aggregation=config.loss_aggregation,
                max_length=config.max_new_tokens, entropies=entropies, entropy_coef=config.entropy_coef,
                top_entropy_quantile=config.top_entropy_quantile,
            )
            loss.backward()
            stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
            stats["loss"] = loss.item()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            for name, value in stats.items():
                totals[name] = totals.get(name, 0.0) + value
            updates += 1
    schedule.step()
    return {name: value / updates for name, value in totals.items()}


def rollout_batch(prompts: list[list[int]], completions: list, advantages: torch.Tensor, pad_id: int) -> dict[str, Any]:
    """Tensors for the loss from N prompts (token ids) and their sampled completions.

    Returns input_ids [N, L] (prompt + completion, right-padded), start (the first position whose
    next-token prediction may be a completion token: the shortest prompt's length − 1), and, in
    target coordinates [N, L − 1 − start] (column j scores token start + 1 + j): mask (1 on
    completion tokens), old_logprobs (the sampler's log π_old) and advantages [N].
    """
    width = max(len(p) + len(c.tokens) for p, c in zip(prompts, completions))
    start = min(len(p) for p in prompts) - 1
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width - 1 - start))
    old_logprobs = torch.zeros((len(prompts), width - 1 - start))
    for row, (prompt, completion) in enumerate(zip(prompts, completions)):
        sequence = prompt + completion.tokens
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        first = len(prompt) - 1 - start  # target column of the first completion token
        mask[row, first : first + len(completion.tokens)] = 1
        old_logprobs[row, first : first + len(completion.tokens)] = torch.tensor(completion.logprobs)
    return {"input_ids": input_ids, "start": start, "mask": mask, "old_logprobs": old_logprobs, "advantages": advantages.float()}


def token_logprobs(model, input_ids: torch.Tensor, start: int, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(token) and the policy entropy at each target position, at the sampling temperature.

    input_ids: [N, L] right-padded (no mask needed: under a causal mask, right padding never reaches a
    real token). Returns logprobs and entropies, each [N, L − 1 − start], column j for token start + 1 + j.
    """
    logits = model(input_ids=input_ids, logits_to_keep=input_ids.shape[1] - start).logits[:, :-1].float() / temperature
    log_probs = logits.log_softmax(-1)
    chosen = log_probs.gather(-1, input_ids[:, start + 1 :, None])[..., 0]
    entropies = -(log_probs.exp() * log_probs).sum(-1)
    return chosen, entropies


def heldout_rows(task, n: int, seed: int, difficulty: dict[str, Any]) -> list[dict]:
    """`n` test-split problems (never trained on) as rows `evaluate_rows` takes."""
    return [
        {"prompt": task.prompt(p), "problem": json.dumps(p), "difficulty": json.dumps(difficulty, sort_keys=True)}
        for p in split_problems(task, n, "test", seed, difficulty)
    ]


def heldout_accuracy(model, tokenizer, task_name: str, rows: list[dict], max_new_tokens: int) -> float:
    """Greedy accuracy (pass@1 at temperature 0) on held-out rows."""
    return evaluate_rows(model, tokenizer, task_name, rows, max_new_tokens=max_new_tokens)["accuracy"]


#: the metrics.jsonl name of the sampled held-out pass@1
SAMPLED_PASS1 = "heldout_pass@1"


def _heldout_metrics(model, tokenizer, config: GRPOConfig, rows: list[dict]) -> dict[str, float]:
    """Greedy accuracy on the held-out rows and, with `eval_samples`, pass@1 at the training temperature.

    The sampled pass@1 draws with the same seed at every evaluation, so successive values differ by
    the model, not by the draw.
    """
    metrics = {"heldout_accuracy": heldout_accuracy(model, tokenizer, config.task, rows, config.max_new_tokens)}
    if config.eval_samples:
        report = evaluate_rows(model, tokenizer, config.task, rows, config.eval_samples, config.temperature, (1,),
                               config.max_new_tokens, config.seed)
        metrics[SAMPLED_PASS1] = report["pass@1"]
    return metrics


def _pass_at_k(model, tokenizer, config: GRPOConfig, rows: list[dict]) -> dict[str, float]:
    """pass@k for k = 1, 2, 4, ... up to `passk_samples`, sampling at the training temperature."""
    ks = [2**i for i in range(config.passk_samples.bit_length()) if 2**i <= config.passk_samples]
    report = evaluate_rows(model, tokenizer, config.task, rows, config.passk_samples, config.temperature, ks,
                           config.max_new_tokens, config.seed)
    return {name: value for name, value in report.items() if name.startswith("pass@") or name == "accuracy"}


def _frozen(model):
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


#: the per-step metrics the report plots, with their axis labels
PLOTTED = {
    "reward_mean": "reward (mean)", "accuracy": "train accuracy", "heldout_accuracy": "held-out accuracy (greedy)",
    SAMPLED_PASS1: "held-out pass@1 (sampled)",
    "response_length": "response length (tokens)", "entropy": "policy entropy (nats)", "kl": "KL to initial model (k3)",
    "clip_fraction": "clipped-ratio share", "zero_advantage_share": "zero-advantage groups", "tokens_per_second": "completion tokens/s",
}


def plot_metrics(runs: dict[str, list[dict]], names: dict[str, str], path: Path, x: str = "step") -> Path:
    """One panel per metric in `names` (name -> title), one line per labelled run's records, against `x`."""
    from arborlab.report import plt, save_figure

    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for axis, (name, title) in zip(axes.flat, names.items()):
        for label, records in runs.items():
            points = [m for m in records if name in m]
            axis.plot([m[x] for m in points], [m[name] for m in points], "o-" if len(points) < 30 else "-", label=label, markersize=3)
        axis.set(xlabel=x, title=title)
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, path)


def write_grpo_report(run: RunFolder, config: GRPOConfig) -> Path:
    """metrics.png, pass_at_k.png (when measured) and report.html; control runs are overlaid."""
    from arborlab.report import image, table, write_report

    runs = {config.reward: run, **{kind: RunFolder(run.path / "controls" / kind) for kind in config.controls}}
    metrics = {f"reward: {label}": folder.read_metrics() for label, folder in runs.items()}
    sections = [("training", image(plot_metrics(metrics, PLOTTED, run.path / "metrics.png")))]

    summaries = {label: json.loads((folder.path / SUMMARY_FILE).read_text()) for label, folder in runs.items()
                 if (folder.path / SUMMARY_FILE).is_file()}
    sections.insert(0, ("held-out accuracy (test split): greedy, and pass@1 sampled at the training temperature", table([
        {"reward": label, "greedy before": s["heldout_accuracy_before"], "greedy after": s["heldout_accuracy_after"],
         **({"pass@1 before": s["heldout_pass1_before"], "pass@1 after": s["heldout_pass1_after"],
             "samples": s["heldout_samples"]} if "heldout_pass1_before" in s else {}),
         "problems": s["heldout_n"]}
        for label, s in summaries.items()])))
    curves = {}
    for label, s in summaries.items():
        if "pass_at_k" in s:
            curves.setdefault("before RL", s["pass_at_k"]["before"])
            curves[f"after RL ({label})"] = s["pass_at_k"]["after"]
    if curves:
        png = plot_pass_at_k(curves, run.path / "pass_at_k.png")
        sections.insert(1, ("pass@k before and after RL (same held-out problems)", image(png)))
    sections.append(("configuration", table([{"setting": k, "value": v} for k, v in dataclasses.asdict(config).items()])))
    return write_report(run.path / "report.html", f"GRPO run {run.path.name}", sections)
