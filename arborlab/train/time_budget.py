"""Fit a training run into a time budget: time the warmup steps, then fix the number of steps.

The learning-rate warmup does not depend on the run's length, so the warmup steps are timed first
and only then is `max_steps` chosen, before the cosine decay it shapes begins. A run on a slower
machine takes fewer steps instead of more time.
"""

from __future__ import annotations

import time

from arborlab.train import distributed

#: steps left out of the timing: the first steps also allocate buffers and warm caches
SKIPPED_STEPS = 5


class StepClock:
    """Times training steps; `stop(step)` returns the new length once, at the end of the timing.

    Timing covers `start()` to `stop()` only, so evaluations and checkpoints between steps are not
    counted. With `config.time_budget` 0 (or a resumed run past the timing) it never fixes anything.
    The length is chosen so that the timed steps' pace spends what is left of the budget.
    """

    def __init__(self, config, steps_done: int, world: int = 1):
        self.budget, self.world = float(config.time_budget), world
        # a run resumed after the timing keeps the length it fixed (config.toml has it); one resumed
        # before it times its own first steps again
        self.active = self.budget > 0 and steps_done < max(config.warmup_steps, SKIPPED_STEPS + 10)
        self.first_timed = steps_done + SKIPPED_STEPS + 1
        self.timed_until = max(config.warmup_steps, self.first_timed + 9)
        self.seconds = 0.0  # training seconds so far
        self.timed_seconds = 0.0  # seconds of the steps after the skipped ones
        self.began = 0.0

    def start(self) -> None:
        self.began = time.perf_counter()

    def stop(self, step: int) -> dict | None:
        """Count the step just done; at the last timed step, the run's fixed length and its timing."""
        if not self.active:
            return None
        elapsed = time.perf_counter() - self.began
        self.seconds += elapsed
        if step >= self.first_timed:
            self.timed_seconds += elapsed
        if step < self.timed_until:
            return None
        self.active = False
        # every rank must reach the same length: they agree on the mean of their timings
        per_step = distributed.all_sum(self.timed_seconds / (step - self.first_timed + 1)) / self.world
        spent = distributed.all_sum(self.seconds) / self.world
        max_steps = step + max(1, int((self.budget - spent) / per_step))
        return {"max_steps": max_steps, "seconds_per_step": per_step, "time_budget": self.budget}
