"""Which problems an RL step trains on: a difficulty schedule and learnability sampling.

* Difficulty schedule: a list of ``{"step": S, KNOB: VALUE, ...}`` entries; from step S on, the
  knobs of the last entry reached override the run's base difficulty.
* Learnability sampling (Tzannetos et al. 2023; Foster & Foerster 2025): prefer problems whose
  success rate p is near 1/2, drawing without replacement with weight p(1 − p), where p is the
  smoothed rate (c + 1) / (n + 2) of the problem's samples so far (an unseen problem: p = 1/2,
  the largest weight). Otherwise problems are drawn uniformly.

Training problems are the task's generated problems whose canonical hash falls in the train split
(`arborlab.data.split_of`), so no held-out (test) problem is ever trained on. Every draw depends
only on (seed, step) and the sampler's counts, which a checkpoint saves: a resumed run draws the
same problems.
"""

from __future__ import annotations

import json
import random
from typing import Any, Collection, Iterable

from arborlab.data import split_of
from arborlab.errors import ArborError
from arborlab.tasks import Task

SAMPLINGS = ("uniform", "learnability")


def split_problems(task: Task, n: int, split: str, seed: int, difficulty: dict[str, Any]) -> list[dict]:
    """The first `n` distinct problems of `split` (by canonical hash) drawn with `seed` at `difficulty`."""
    found: dict[str, dict] = {}
    for problem in task.problems(50 * n + 1000, seed, difficulty):
        digest = task.problem_hash(problem)
        if split_of(digest) == split and digest not in found:
            found[digest] = problem
            if len(found) == n:
                return list(found.values())
    raise ArborError(f"only {len(found)} distinct {split} problems exist at difficulty {difficulty}; ask for fewer.")


def difficulty_at(step: int, base: dict[str, Any], schedule: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The difficulty knobs in force at `step`: `base` updated by every schedule entry already reached."""
    chosen = dict(base)
    for entry in sorted(schedule, key=lambda e: e["step"]):
        if entry["step"] <= step:
            chosen.update({k: v for k, v in entry.items() if k != "step"})
    return chosen


class ProblemSampler:
    """Draws each step's problems from per-difficulty pools, uniformly or by learnability."""

    def __init__(self, task: Task, base: dict[str, Any], schedule: list[dict[str, Any]], pool_size: int, sampling: str, seed: int):
        if sampling not in SAMPLINGS:
            raise ArborError(f"unknown problem sampling '{sampling}'; choose one of {', '.join(SAMPLINGS)}.")
        if any("step" not in entry for entry in schedule):
            raise ArborError("every difficulty_schedule entry needs a 'step' (the step it starts at).")
        self.task, self.base, self.schedule = task, base, schedule
        self.pool_size, self.sampling, self.seed = pool_size, sampling, seed
        self.pools: dict[str, list[dict]] = {}
        self.counts: dict[str, list[int]] = {}  # problem hash -> [samples, correct]

    def pool(self, step: int) -> list[dict]:
        """The training problems at the difficulty in force at `step` (made once per difficulty)."""
        difficulty = self.task.difficulty(difficulty_at(step, self.base, self.schedule))
        key = json.dumps(difficulty, sort_keys=True)
        if key not in self.pools:
            self.pools[key] = split_problems(self.task, self.pool_size, "train", self.seed, difficulty)
        return self.pools[key]

    def draw(self, step: int, n: int, attempt: int = 0, exclude: Collection[str] = ()) -> list[dict]:
        """`n` distinct problems for `step`; a later `attempt` (a refill) draws afresh, never the hashes in `exclude`."""
        pool = self.pool(step)
        if exclude:
            pool = [problem for problem in pool if self.task.problem_hash(problem) not in exclude]
        if n > len(pool):
            raise ArborError(f"prompts_per_step {n} exceeds the problem pool of {len(pool)}; raise pool_size.")
        rng = random.Random(f"problems:{self.seed}:{step}" + (f":{attempt}" if attempt else ""))
        if self.sampling == "uniform":
            return rng.sample(pool, n)
        # Weighted sampling without replacement (Efraimidis & Spirakis): the n largest u^(1/w).
        keys = [rng.random() ** (1 / self.learnability(problem)) for problem in pool]
        order = sorted(range(len(pool)), key=keys.__getitem__, reverse=True)
        return [pool[i] for i in order[:n]]

    def learnability(self, problem: dict) -> float:
        """p(1 − p) with the smoothed success rate p = (c + 1) / (n + 2)."""
        samples, correct = self.counts.get(self.task.problem_hash(problem), (0, 0))
        p = (correct + 1) / (samples + 2)
        return p * (1 - p)

    def record(self, problem: dict, samples: int, correct: int) -> None:
        """Count `correct` successes in `samples` new samples of `problem`."""
        counts = self.counts.setdefault(self.task.problem_hash(problem), [0, 0])
        counts[0] += samples
        counts[1] += correct

    def state_dict(self) -> dict[str, Any]:
        return {"counts": self.counts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = {key: list(value) for key, value in state["counts"].items()}
