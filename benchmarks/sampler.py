"""Speed of arborlab's sampler against transformers' ``generate`` on a random 3M-parameter Llama.

Builds the "3m" preset (vocabulary of 1,100 tokens) with random weights, decodes the same prompts
greedily with both at batch sizes 1, 16 and 64 (prompts of 16-24 tokens, left-padded; 128 new
tokens with no stop token, so both produce the same number of tokens), checks that the tokens are
identical, and prints tokens per second. Each timing is the best of a few runs, alternating the
two samplers, because other work on a shared machine only ever adds time.

    python benchmarks/sampler.py [--threads N] [--repeats R]

The last line is ``sampler_speedup_b64: X.XX (goal >= 3)``.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaForCausalLM

from arborlab.models import make_config
from arborlab.sample import sample

VOCAB = 1100
NEW_TOKENS = 128
BATCHES = (1, 16, 64)


def build_model(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = make_config("3m", VOCAB, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaForCausalLM(config).eval()


def make_prompts(batch: int, seed: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(16, 25, (batch,), generator=generator)
    return [torch.randint(3, VOCAB, (int(n),), generator=generator).tolist() for n in lengths]


def hf_generate(model, prompts: list[list[int]]) -> list[list[int]]:
    """transformers' greedy generate on the left-padded batch; eos disabled so every row runs to the end."""
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.inference_mode():
        out = model.generate(
            input_ids, attention_mask=attention_mask, max_new_tokens=NEW_TOKENS, do_sample=False,
            eos_token_id=None, pad_token_id=0,
        )
    return out[:, width:].tolist()


def arbor_sample(model, prompts: list[list[int]]) -> list[list[int]]:
    return [c.tokens for c in sample(model, prompts, NEW_TOKENS, temperature=0, stop_ids=())]


def timed(run) -> tuple[float, list[list[int]]]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(seed=0)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: 3m preset, {params / 1e6:.2f}M parameters, vocab {VOCAB}; torch threads: {torch.get_num_threads()}")
    print(f"{'batch':>5}  {'hf tok/s':>9}  {'arbor tok/s':>11}  {'speedup':>7}")
    speedups = {}
    for batch in BATCHES:
        prompts = make_prompts(batch, seed=batch)
        hf_generate(model, prompts[:1])  # warm-up
        arbor_sample(model, prompts[:1])
        hf_seconds, arbor_seconds = float("inf"), float("inf")
        for _ in range(args.repeats):  # alternate, so load from other work hits both alike
            seconds, expected = timed(lambda: hf_generate(model, prompts))
            hf_seconds = min(hf_seconds, seconds)
            seconds, got = timed(lambda: arbor_sample(model, prompts))
            arbor_seconds = min(arbor_seconds, seconds)
            if got != expected:
                raise SystemExit(f"the samplers disagree at batch {batch}: arbor's greedy tokens differ from generate's.")
        tokens = batch * NEW_TOKENS
        speedups[batch] = hf_seconds / arbor_seconds
        print(f"{batch:>5}  {tokens / hf_seconds:>9.0f}  {tokens / arbor_seconds:>11.0f}  {speedups[batch]:>6.2f}x")
    print(f"sampler_speedup_b64: {speedups[64]:.2f} (goal >= 3)")


if __name__ == "__main__":
    main()
