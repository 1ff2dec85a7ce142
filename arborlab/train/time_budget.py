"""Fit a training run into a time budget: time the warmup steps, fix the number of steps, and re-fit
it on the way when the pace changes.

The learning-rate warmup does not depend on the run's length, so the warmup steps are timed first
and only then is `max_steps` chosen, before the cosine decay it shapes begins. A run on a slower
machine takes fewer steps instead of more time. The pace can change during a run (another job
starts on the machine, or ends), so after each fit the steps of the next quarter of what is left
are timed and the length is fitted again to their pace; the cosine is then stretched or shrunk to
end at the new length.
"""

from __future__ import annotations

import time

from arborlab.train import distributed

#: steps left out of the timing: the first steps also allocate buffers and warm caches
SKIPPED_STEPS = 5
#: the share of the steps left that is timed before the length is fitted again
REFIT_SHARE = 0.25
#: the fewest steps timed for a re-fit (fewer give noisy paces: 0.11 and 0.23 s a step in two
#: 10-step windows of one demo run); with fewer left, the length stays
MIN_TIMED = 50
#: a re-fit that changes the length by less than this share keeps the old one (no needless lr jumps)
REFIT_TOLERANCE = 0.01


class StepClock:
    """Times training steps; `stop(step)` returns the run's new length when it fixes or re-fits it.

    Timing covers `start()` to `stop()` only, so evaluations and checkpoints between steps are not
    counted. With `config.time_budget` 0 (or a resumed run past the first timing) it never fixes
    anything. Each length is chosen so that the pace since the last fit spends what is left of
    the budget.
    """

    def __init__(self, config, steps_done: int, world: int = 1):
        self.budget, self.world = float(config.time_budget), world
        # a run resumed after the timing keeps the length it fixed (config.toml has it); one resumed
        # before it times its own first steps again
        self.active = self.budget > 0 and steps_done < max(config.warmup_steps, SKIPPED_STEPS + 10)
        # the steps first_timed..timed_until are timed for the next fit
        self.first_timed = steps_done + SKIPPED_STEPS + 1
        self.timed_until = max(config.warmup_steps, self.first_timed + 9)
        self.seconds = 0.0  # training seconds so far
        self.timed_seconds = 0.0
        self.planned: int | None = None  # the length in force, once fixed
        self.began = 0.0

    def start(self) -> None:
        self.began = time.perf_counter()

    def stop(self, step: int) -> dict | None:
        """Count the step just done; at the end of a timing, the run's new length and the pace it used
        (None when the length stays)."""
        if not self.active:
            return None
        elapsed = time.perf_counter() - self.began
        self.seconds += elapsed
        if step >= self.first_timed:
            self.timed_seconds += elapsed
        if step < self.timed_until:
            return None
        # every rank must reach the same length: they agree on the mean of their timings
        per_step = distributed.all_sum(self.timed_seconds / (step - self.first_timed + 1)) / self.world
        spent = distributed.all_sum(self.seconds) / self.world
        max_steps = step + max(1, int((self.budget - spent) / per_step))
        changed = self.planned is None or abs(max_steps - self.planned) >= REFIT_TOLERANCE * self.planned
        if changed:
            self.planned = max_steps
        timed = max(MIN_TIMED, round(REFIT_SHARE * (self.planned - step)))
        if step + timed < self.planned:  # time the next stretch for a re-fit
            self.first_timed, self.timed_until, self.timed_seconds = step + 1, step + timed, 0.0
        else:
            self.active = False
        return {"max_steps": max_steps, "seconds_per_step": per_step, "time_budget": self.budget} if changed else None
