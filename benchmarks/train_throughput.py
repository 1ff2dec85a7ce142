"""Benchmark: SFT training FLOP/s as a fraction of this machine's fp32 matmul peak, both measured now.

The peak is the best of several large square fp32 matmuls. Training runs the same step as
`arborlab.train.sft` (forward without a mask, summed cross-entropy, backward, clipping, AdamW) on
the chosen preset with random tokens. FLOPs per token are 6 x parameters (forward + backward
matmuls) plus the attention scores, 12 x layers x length x hidden (Kaplan et al. 2020).

    python benchmarks/train_throughput.py [--preset 3m] [--batch 32] [--length 200] [--precision both|fp32|bf16]

SFT runs in fp32 and under bf16 autocast (its `bf16` setting), both against the fp32 peak: on a
CPU with native bf16 (AVX512-BF16) bf16 matmuls beat fp32's, so the bf16 peak is printed too. The
headline is the faster of the settings measured, named on the line before it."""

from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaForCausalLM

from arborlab.models import make_config
from arborlab.train.sft import completion_loss

VOCAB = 1100


def matmul_peak(size: int = 2048, seconds: float = 3.0, dtype: torch.dtype = torch.float32) -> float:
    """The best GFLOP/s of `size` x `size` matmuls in `dtype` over about `seconds`."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - started) / 1e9)
    return best


def training_rate(preset: str, batch: int, length: int, steps: int, bf16: bool = False) -> tuple[float, float]:
    """(tokens/s, GFLOP/s) of SFT steps on random tokens, after two warm-up steps."""
    torch.manual_seed(0)
    config = make_config(preset, VOCAB)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    input_ids = torch.randint(0, VOCAB, (batch, length))
    batch_tensors = {"input_ids": input_ids, "labels": input_ids.clone()}
    for step in range(steps + 2):
        if step == 2:
            started = time.perf_counter()
        loss, _, _ = completion_loss(model, dict(batch_tensors), bf16=bf16, world=1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    tokens_per_second = steps * batch * length / (time.perf_counter() - started)
    parameters = sum(p.numel() for p in model.parameters())
    flops_per_token = 6 * parameters + 12 * config.num_hidden_layers * length * config.hidden_size
    return tokens_per_second, tokens_per_second * flops_per_token / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="3m")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--precision", choices=("both", "fp32", "bf16"), default="both",
                        help="SFT in fp32, under bf16 autocast (SFT's bf16 setting), or both")
    parser.add_argument("--bf16", action="store_true", help="the same as --precision bf16")
    args = parser.parse_args()
    precisions = ["bf16"] if args.bf16 else ["fp32", "bf16"] if args.precision == "both" else [args.precision]

    peak = matmul_peak()
    print(f"threads: {torch.get_num_threads()}; fp32 matmul peak: {peak:.1f} GFLOP/s", end="")
    bf16_peak = matmul_peak(dtype=torch.bfloat16) if "bf16" in precisions else None
    print(f", bf16 matmul peak: {bf16_peak:.1f} GFLOP/s" if bf16_peak else "")
    fractions = {}
    for precision in precisions:
        tokens_per_second, gflops = training_rate(args.preset, args.batch, args.length, args.steps, precision == "bf16")
        fractions[precision] = gflops / peak
        of_bf16 = f", {gflops / bf16_peak:.2f} of the bf16 peak" if precision == "bf16" else ""
        print(f"SFT {args.preset} ({precision}{' autocast' if precision == 'bf16' else ''}), batch {args.batch} x "
              f"{args.length} tokens: {tokens_per_second:,.0f} tokens/s, {gflops:.1f} GFLOP/s, "
              f"{fractions[precision]:.2f} of the fp32 peak{of_bf16}")
    best = max(fractions, key=fractions.get)
    print(f"headline: SFT in {best}{' autocast' if best == 'bf16' else ''}")
    print(f"sft_flops_fraction_of_peak: {fractions[best]:.2f} (goal >= 0.70)")


if __name__ == "__main__":
    main()
