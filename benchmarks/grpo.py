"""Completion tokens per second of whole GRPO steps: arborlab's loop against TRL's GRPOTrainer.

Same model (a randomly initialized 4.1M-parameter Llama: the 3m preset with 8 layers, countdown
vocabulary), same settings (8 prompts x 8 completions of up to 128 tokens a step, temperature 1,
top-p 1, no top-k, one inner epoch, beta 0, one optimizer step), in the same process. A step is
everything: sampling, log-probs, loss, backward, update. The first step of each is a warm-up;
the rest are timed wall clock (TRL: between its step-end callbacks; ours: `grpo_step`).

    .venv/bin/python benchmarks/grpo.py [--steps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# Running this file puts benchmarks/ first on the path, where datasets.py would shadow the `datasets` package.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402

from arborlab.models import make_config, save_model  # noqa: E402
from arborlab.rewards import Rewarder, for_trl  # noqa: E402
from arborlab.tasks import get_task  # noqa: E402
from arborlab.tokenizer import build_tokenizer  # noqa: E402
from arborlab.train.curriculum import ProblemSampler  # noqa: E402
from arborlab.train.grpo import GRPOConfig, grpo_step  # noqa: E402
from arborlab.train.batches import prompt_text  # noqa: E402

TASK, DIFFICULTY = "countdown", {"n_numbers": 3}
PROMPTS, GROUP, NEW_TOKENS, LR = 8, 8, 128, 1e-5


def build_model(folder: Path) -> Path:
    """A random 3m-preset Llama with 8 layers and the countdown tokenizer, saved to `folder`."""
    from transformers import LlamaForCausalLM

    task = get_task(TASK)
    problems = list(task.problems(200, seed=0, difficulty=DIFFICULTY))
    tokenizer = build_tokenizer(prompt_text(task.prompt(p)) + task.trace(p, "search") for p in problems)
    torch.manual_seed(0)
    config = make_config("3m", vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, num_hidden_layers=8)
    model = LlamaForCausalLM(config)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, vocab {len(tokenizer)}")
    return save_model(model, tokenizer, folder)


def ours(folder: Path, steps: int) -> tuple[float, float]:
    """(seconds per step, completion tokens per second) of arborlab's GRPO loop."""
    from arborlab.models import load_model
    from transformers import get_constant_schedule_with_warmup

    model, tokenizer = load_model(folder)
    model.train()
    config = GRPOConfig(init=str(folder), task=TASK, difficulty=DIFFICULTY, prompts_per_step=PROMPTS, group_size=GROUP,
                        max_new_tokens=NEW_TOKENS, learning_rate=LR, track_kl=False)
    task = get_task(TASK)
    sampler = ProblemSampler(task, task.difficulty(DIFFICULTY), [], 500, "uniform", 0)
    rewarder = Rewarder(task)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    schedule = get_constant_schedule_with_warmup(optimizer, 0)
    records = [grpo_step(model, tokenizer, optimizer, schedule, config, sampler, rewarder, None, step) for step in range(1, steps + 2)]
    timed = records[1:]
    seconds = sum(r["seconds"] for r in timed)
    tokens = sum(r["response_length"] * PROMPTS * GROUP for r in timed)
    return seconds / len(timed), tokens / seconds


def trl(folder: Path, steps: int) -> tuple[float, float]:
    """(seconds per step, completion tokens per second) of TRL's GRPOTrainer."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig as TRLConfig, GRPOTrainer

    class StepClock(TrainerCallback):
        def __init__(self):
            self.ends = []

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    task = get_task(TASK)
    problems = list(task.problems(PROMPTS * (steps + 1), seed=1, difficulty=DIFFICULTY))
    dataset = Dataset.from_list([{"prompt": prompt_text(task.prompt(p)), "problem": json.dumps(p)} for p in problems])
    args = TRLConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=PROMPTS * GROUP, num_generations=GROUP,
                     max_completion_length=NEW_TOKENS, max_steps=steps + 1, learning_rate=LR, temperature=1.0, top_p=1.0,
                     beta=0.0, num_iterations=1, use_cpu=True, report_to=[], save_strategy="no", logging_steps=1,
                     disable_tqdm=True,
                     # TRL 1.16 turns gradient checkpointing on by default; a tiny model has no use for it
                     gradient_checkpointing=False)
    clock = StepClock()
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(folder), reward_funcs=for_trl(TASK), args=args,
                          train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(folder), callbacks=[clock])
    trainer.train()
    lengths = [entry["completions/mean_length"] for entry in trainer.state.log_history if "completions/mean_length" in entry]
    seconds = clock.ends[-1] - clock.ends[0]
    tokens = sum(lengths[1:]) * PROMPTS * GROUP
    return seconds / steps, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps of each (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_model(Path(scratch) / "model")
        theirs_step, theirs_rate = trl(folder, args.steps)
        ours_step, ours_rate = ours(folder, args.steps)
    print(f"torch threads: {torch.get_num_threads()}; {PROMPTS}x{GROUP} completions of up to {NEW_TOKENS} tokens a step")
    print(f"TRL GRPOTrainer: {theirs_step:.2f} s/step, {theirs_rate:,.0f} completion tokens/s")
    print(f"arborlab GRPO:   {ours_step:.2f} s/step, {ours_rate:,.0f} completion tokens/s")
    print(f"grpo_speedup: {ours_rate / theirs_rate:.2f} (goal >= 3)")


if __name__ == "__main__":
    main()
