"""Benchmark: 100,000 countdown search traces (4 numbers) written to Parquet, on every core.

Also times reasoning-gym's countdown generator (problems only, no traces) on the same settings in
the same run, and prints our problems/s as a ratio to it. Last line: the headline figure.

    python benchmarks/datasets.py [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from arborlab.data import make_dataset

DIFFICULTY = {"n_numbers": 4, "max_number": 100, "min_target": 10, "max_target": 100}


def time_ours(n: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        make_dataset("countdown", n, "search", f"{folder}/data", seed=0, difficulty=DIFFICULTY, order="dfs")
        return time.perf_counter() - started


def reasoning_gym_rate(n: int) -> float:
    """reasoning-gym countdown problems per second (one process), with 4 numbers and targets 10-100."""
    import reasoning_gym

    dataset = reasoning_gym.create_dataset(
        "countdown", size=n, seed=0, min_numbers=4, max_numbers=4, max_value=100, min_target=10, max_target=100
    )
    started = time.perf_counter()
    for index in range(n):
        dataset[index]
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rg-n", type=int, default=500, help="problems to time reasoning-gym on")
    args = parser.parse_args()

    seconds = time_ours(args.n)
    ours = args.n / seconds
    theirs = reasoning_gym_rate(args.rg_n)
    print(f"cores: {os.cpu_count()}")
    print(f"arborlab: {args.n} countdown search traces to Parquet in {seconds:.1f} s ({ours:,.0f} problems/s, all cores)")
    print(f"reasoning-gym countdown: {theirs:,.1f} problems/s (one process, problems only)")
    print(f"problems_per_second_vs_reasoning_gym: {ours / theirs:.1f} (goal >= 1)")
    print(f"countdown_search_traces_100k_seconds: {seconds * 100_000 / args.n:.1f} (goal < 120)")


if __name__ == "__main__":
    main()
