"""Speed of step-wise search against plain batched sampling of the same number of tokens, same model.

Beam search and MCTS expand one step (one line of the think block) at a time, so each round is a
sampler call (continuing last round's rows from the policy's prefix cache, or re-reading each
prefix when a row is new), and between rounds the verifier scores the beams. The
reference is one plain batched ``sample`` call over as many rows as the search keeps open,
writing the same total number of tokens (no stop rule, so every row writes exactly its share).
The ratio is search tokens/s over reference tokens/s; the goal is at least 0.70 each. Each pairing
runs once untimed first: a process's first searches pay for growing the allocator's heap (page
faults of fresh cache buffers: about 180,000 in the first beam search, under 2,000 by the fourth;
scratch count, session 16), which is not the search's own speed. Then the best of `--repeats`
timed runs of each is taken, since other work on the machine only adds time.

The model is a toy policy on `compare` (unit prices up to 12), trained here unless ``--model DIR``
names one: by default the 1m preset (1.0M parameters, 4 layers of width 128: the demo's size, the
smallest our toy models use), in about 30 s; ``--size tiny`` is the tests' 2-layer, 48-wide model
(15 s), where the model's arithmetic is so small that Python work per round (the oracle's step
checks, laying out cached rows) weighs as much as the decoding itself. The verifier is the oracle
(the task's step checker), whose time is counted as part of the search.

    python benchmarks/search.py [--size 1m|tiny] [--model DIR] [--problems P] [--budget N] [--threads T]

The last line is ``search_speed_ratio_min: X.XX (goal >= 0.70)``, the smaller of the two ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from arborlab.models import load_model
from arborlab.sample import sample
from arborlab.search import STRATEGIES, Policy, SearchConfig, SearchContext
from arborlab.search.verifiers import OracleVerifier
from arborlab.tasks import get_task
from arborlab.train.sft import SFTConfig, train_sft

TASK, DIFFICULTY = "compare", {"kind": "unit_price", "max_value": 12}


#: model settings by --size: the 1m preset as it is, or the tests' tiny model
SIZES = {
    "1m": ({}, 3e-3),
    "tiny": ({"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 2,
              "num_key_value_heads": 2}, 5e-3),
}


def toy_model(folder: Path, size: str = "1m") -> Path:
    model, learning_rate = SIZES[size]
    config = SFTConfig(task=TASK, style="cot", difficulty=DIFFICULTY, n_problems=1500, preset="1m", model=model, batch_size=32,
                       max_steps=150, learning_rate=learning_rate, warmup_steps=10, eval_every=10_000, final_eval_problems=8,
                       checkpoint_every=10_000, max_new_tokens=60)
    train_sft(config, folder / "run", show_progress=False)
    return folder / "run" / "final"


def timed_search(context: SearchContext, strategy: str, problems) -> tuple[int, float]:
    """Tokens generated and seconds taken by one strategy run."""
    began = time.perf_counter()
    results = STRATEGIES[strategy](context, problems)
    return sum(r.budget.tokens for r in results), time.perf_counter() - began


def timed_reference(policy: Policy, problems, rows: int, tokens: int) -> tuple[int, float]:
    """Plain batched sampling: `rows` rows from the problems' roots, `tokens` tokens in all, no stops."""
    roots = policy.roots(get_task(TASK), problems)
    prompts = [list(roots[i % len(roots)].ids) for i in range(rows)]
    per_row = max(1, round(tokens / rows))
    began = time.perf_counter()
    done = []
    for start in range(0, rows, policy.batch_size):
        done += sample(policy.model, prompts[start: start + policy.batch_size], per_row, temperature=1.0, stop_ids=(), seed=start)
    return sum(len(c.tokens) for c in done), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1m", help="the toy policy trained when --model is not given")
    parser.add_argument("--model", type=Path, help="a policy folder (default: train a toy one)")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each pairing before the timed ones")
    parser.add_argument("--batch-size", type=int, default=512, help="rows per sampler call, search and reference alike")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0 or args.problems < 1 or args.budget < 1:
        parser.error("--repeats, --problems and --budget must be at least 1, and --warmup at least 0.")
    torch.set_num_threads(args.threads)
    folder = args.model or toy_model(Path(tempfile.mkdtemp(prefix="arbor-bench-search-")), args.size)
    model, tokenizer = load_model(folder)
    task = get_task(TASK)
    problems = list(task.problems(args.problems, seed=7, difficulty=DIFFICULTY))
    policy = Policy(model, tokenizer, max_new_tokens=80, batch_size=args.batch_size)
    ratios = {}
    for strategy, open_rows in (("beam", args.budget), ("mcts", 4)):
        context = SearchContext(policy, OracleVerifier(task), task, SearchConfig(budget=args.budget, beam_width=4, parallel=4))
        best_search = best_reference = 0.0
        for repeat in range(args.warmup + args.repeats):
            tokens, seconds = timed_search(context, strategy, problems)
            ref_tokens, ref_seconds = timed_reference(policy, problems, open_rows * len(problems), tokens)
            if repeat >= args.warmup:
                best_search = max(best_search, tokens / seconds)
                best_reference = max(best_reference, ref_tokens / ref_seconds)
        ratios[strategy] = best_search / best_reference
        print(f"{strategy}: {best_search:,.0f} tokens/s; plain batched sampling of as many tokens "
              f"({open_rows * len(problems)} rows): {best_reference:,.0f} tokens/s; ratio {ratios[strategy]:.2f}")
    print(f"search_speed_ratio_min: {min(ratios.values()):.2f} (goal >= 0.70)")


if __name__ == "__main__":
    main()
