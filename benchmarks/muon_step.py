"""Benchmark: `ShapeBatchedMuon`'s step against `torch.optim.Muon`'s on the same matrices.

Both optimizers step the hidden matrices of the chosen preset (the demo's is 1m: 28 matrices of 4
shapes) with the same random gradients, in alternating rounds so the machine's drift hits both;
the headline is the ratio of their median step times.

    python benchmarks/muon_step.py [--preset 1m] [--rounds 10] [--steps 10]"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from transformers import LlamaForCausalLM

from arborlab.models import make_config
from arborlab.train.optimizers import ShapeBatchedMuon, muon_parameters

VOCAB = 1100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="1m")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = LlamaForCausalLM(make_config(args.preset, VOCAB))
    settings = dict(lr=3e-3, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")
    optimizers = {}
    for name, kind in (("torch", torch.optim.Muon), ("batched", ShapeBatchedMuon)):
        matrices = muon_parameters(copy.deepcopy(model))[0]
        for matrix in matrices:
            matrix.grad = torch.randn_like(matrix)
        optimizers[name] = kind(matrices, **settings)
        optimizers[name].step()  # warm-up: creates the momentum buffers
    times = {name: [] for name in optimizers}
    for _ in range(args.rounds):
        for name, optimizer in optimizers.items():
            started = time.perf_counter()
            for _ in range(args.steps):
                optimizer.step()
            times[name].append((time.perf_counter() - started) / args.steps * 1e3)
    shapes = {tuple(p.shape) for p in optimizers["batched"].param_groups[0]["params"]}
    count = len(optimizers["batched"].param_groups[0]["params"])
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"preset {args.preset}: {count} matrices of {len(shapes)} shapes, {torch.get_num_threads()} threads")
    for name, median in medians.items():
        print(f"{name} Muon: {median:.1f} ms a step (median of {args.rounds} rounds of {args.steps})")
    print(f"muon_step_speedup: {medians['torch'] / medians['batched']:.2f} (goal >= 1.5)")


if __name__ == "__main__":
    main()
