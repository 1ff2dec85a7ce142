"""Cost of TransformerLens' hooks in `HookedModel` against a plain Hugging Face forward of the same batch.

Saves a random "3m" Llama (with a task tokenizer) to a temporary folder, loads it twice: as a
HookedModel and as a plain HF model with eager attention and no KV cache (the bridge runs eager
attention without a cache too, so the comparison is kernel for kernel). On one batch it times,
alternating, the plain HF forward, ``hm(ids)`` with no hook registered (HookedModel then runs HF's
own modules on the same weights), and ``hm.run_with_cache(ids)`` over every hook point. Each timing
is the best of several runs, since other work on a shared machine only ever adds time. A one-prompt
line shows the per-call cost (Python) that the batch hides.

    python benchmarks/hooks.py [--threads N] [--batch B] [--length L] [--repeats R]

The last lines are ``hooks_no_hook: X.XX (goal <= 1.02)`` and ``hooks_run_with_cache: X.XX (goal <= 1.3)``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0], and its datasets.py would shadow Hugging Face's
# `datasets`, which TransformerLens imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, LlamaForCausalLM  # noqa: E402

from arborlab.interp.model import HookedModel  # noqa: E402
from arborlab.models import make_config, save_model  # noqa: E402
from arborlab.tasks import get_task  # noqa: E402
from arborlab.tokenizer import build_tokenizer  # noqa: E402


def alternating_best(runs: dict, repeats: int) -> dict[str, float]:
    """The fastest of `repeats` calls of each function, calling them in turn (after one warm-up each)."""
    for fn in runs.values():
        fn()
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = get_task("compare")
    tokenizer = build_tokenizer(task.prompt(p) for p in task.problems(20))
    torch.manual_seed(0)
    config = make_config("3m", len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    with tempfile.TemporaryDirectory() as folder:
        save_model(LlamaForCausalLM(config), tokenizer, Path(folder) / "model")
        hm = HookedModel.from_pretrained(Path(folder) / "model")
        hf = AutoModelForCausalLM.from_pretrained(Path(folder) / "model", attn_implementation="eager").eval()
    ids = torch.randint(3, len(tokenizer), (args.batch, args.length))
    runs = {"hf": lambda: hf(ids, use_cache=False), "no_hook": lambda: hm(ids), "run_with_cache": lambda: hm.run_with_cache(ids)}
    one_prompt = ids[:1, :16]  # what interactive work sends: per-call Python shows there
    small_runs = {"hf": lambda: hf(one_prompt, use_cache=False), "no_hook": lambda: hm(one_prompt)}
    with torch.no_grad():
        logits, cache = hm.run_with_cache(ids)
        plain = hm(ids)
        if not (torch.equal(plain, hf(ids, use_cache=False).logits) and torch.equal(logits, plain)):
            sys.exit("HookedModel's logits are not HF's, bit for bit: the timings would compare different work.")
        best = alternating_best(runs, args.repeats)
        small = alternating_best(small_runs, args.repeats * 10)
    print(f"batch {args.batch} x {args.length} tokens, 3m Llama, {args.threads} thread(s), {len(cache)} cached activations")
    for name, seconds in best.items():
        print(f"  {name:>15}: {seconds * 1000:8.1f} ms")
    print(f"  one prompt of 16 tokens (not the goal's batch): HF {small['hf'] * 1000:.2f} ms, no hook "
          f"{small['no_hook'] * 1000:.2f} ms, {small['no_hook'] / small['hf']:.2f}x")
    print(f"hooks_no_hook: {best['no_hook'] / best['hf']:.3f} (goal <= 1.02)")
    print(f"hooks_run_with_cache: {best['run_with_cache'] / best['hf']:.3f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
