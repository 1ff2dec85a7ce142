"""Speed of arborlab's sampler against transformers' ``generate`` on a random 3M-parameter Llama.

Builds the "3m" preset (vocabulary of 1,100 tokens) with random weights, decodes the same prompts
greedily with both at batch sizes 1, 16 and 64 (prompts of 16-24 tokens, left-padded; 128 new
tokens with no stop token, so both produce the same number of tokens), checks that the tokens are
identical, and prints tokens per second. Each timing is the best of a few runs, alternating the
two samplers, because other work on a shared machine only ever adds time.

    python benchmarks/sampler.py [--threads N] [--repeats R]

Before it, a floor: one decoding step's matrix products alone (every linear layer's weight in the
model's order, on a [64, 1, in_features] input, cycled through 128 steps), timed with the same
kernels both samplers call, and the time the same FLOPs would take at this machine's fp32 matmul
peak (measured in this run). HF ``generate``'s step time over either is the most any sampler that
does those products can gain at batch 64.

The last line is ``sampler_speedup_b64: X.XX (goal >= 3)``.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from train_throughput import matmul_peak
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


def matmul_floor(model, batch: int, steps: int = NEW_TOKENS, repeats: int = 3) -> tuple[float, float]:
    """(seconds, FLOPs) of one decoding step's matrix products at `batch` rows: every linear layer of
    the model, the lm_head included, in order, on a [batch, 1, in_features] input (best of `repeats`
    runs of `steps` steps; weights cycle as in decoding, so they do not all stay in cache)."""
    weights = [module.weight for module in model.modules() if isinstance(module, torch.nn.Linear)]
    inputs = {w.shape[1]: torch.randn(batch, 1, w.shape[1]) for w in weights}
    flops = sum(2 * batch * w.shape[0] * w.shape[1] for w in weights)
    best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(steps):
                for weight in weights:
                    F.linear(inputs[weight.shape[1]], weight)
            best = min(best, (time.perf_counter() - started) / steps)
    return best, flops


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
    speedups, hf_step_seconds = {}, {}
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
        hf_step_seconds[batch] = hf_seconds / NEW_TOKENS  # prefill included
        print(f"{batch:>5}  {tokens / hf_seconds:>9.0f}  {tokens / arbor_seconds:>11.0f}  {speedups[batch]:>6.2f}x")
    hf_step = hf_step_seconds[BATCHES[-1]]
    floor, flops = matmul_floor(model, BATCHES[-1])
    at_peak = flops / (matmul_peak() * 1e9)
    print(f"floor at batch {BATCHES[-1]}: HF generate takes {hf_step * 1e3:.1f} ms a step; the step's matrix products "
          f"alone ({flops / 1e6:.0f} MFLOP) take {floor * 1e3:.1f} ms with torch's kernels, {at_peak * 1e3:.1f} ms at "
          f"this machine's fp32 matmul peak: at most {hf_step / floor:.2f}x and {hf_step / at_peak:.2f}x")
    print(f"sampler_speedup_b64: {speedups[64]:.2f} (goal >= 3)")


if __name__ == "__main__":
    main()
