"""Verifiable rewards from a task's exact verifier and step checker, and the RLVR controls.

Reward kinds (the `kind` of `Rewarder`):

* ``exact``: 1 when the verifier accepts the answer, else 0.
* ``format``: 1 when the completion is one well-formed trace (``<think>`` steps ``</think><answer>X</answer>``).
* ``steps``: the share of the trace's steps the step checker finds valid (process reward; 0 without steps).
* ``random``: Bernoulli(p), independent of the completion (the spurious-reward control, Shao et al. 2025).
* ``positive_only`` / ``negative_only``: +1 for correct samples (else 0) / −1 for wrong ones (else 0),
  used directly as advantages, without a group baseline (PSR / NSR, Zhu et al. 2025): only correct,
  or only wrong, samples get a learning signal.

Every kind may add ``format_weight`` × the format score. A scorer never raises on a completion: a
malformed one (or a verifier bug) scores 0 and the reason is logged.
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from arborlab.errors import ArborError
from arborlab.tasks import Task, get_task
from arborlab.text import split_steps

log = logging.getLogger(__name__)

KINDS = ("exact", "format", "steps", "random", "positive_only", "negative_only")
#: kinds whose rewards are the advantages themselves (no group mean subtracted, no std division)
UNBASELINED = ("positive_only", "negative_only")
WELL_FORMED = re.compile(r"<think>\n(?:[^\n]*\n)*</think><answer>[^<\n]*\S[^<\n]*</answer>\s*")


@dataclass(frozen=True)
class Score:
    """One completion's reward, the verifier's verdict on it, and why."""

    reward: float
    correct: bool
    reason: str


def format_score(completion: str) -> float:
    """1.0 when `completion` is exactly one well-formed trace with a non-empty answer, else 0.0."""
    return 1.0 if WELL_FORMED.fullmatch(completion) else 0.0


def step_score(task: Task, problem: dict, completion: str) -> float:
    """The share of the completion's steps that the task's step checker finds valid (0.0 with no steps)."""
    checks = task.check_steps(problem, split_steps(completion))
    return sum(check.valid for check in checks) / len(checks) if checks else 0.0


class Rewarder:
    """Scores completions of a task's problems with one reward kind.

    rng: the random stream of the ``random`` kind (draws happen only for that kind).
    """

    def __init__(self, task: Task | str, kind: str = "exact", format_weight: float = 0.0, random_p: float = 0.5, seed: int = 0):
        if kind not in KINDS:
            raise ArborError(f"unknown reward '{kind}'; choose one of {', '.join(KINDS)}.")
        if not 0 <= random_p <= 1:
            raise ArborError(f"the random reward's probability must be in [0, 1], got {random_p}.")
        self.task = get_task(task) if isinstance(task, str) else task
        self.kind, self.format_weight, self.random_p = kind, format_weight, random_p
        self.rng = random.Random(seed)

    @property
    def baseline(self) -> bool:
        """Whether advantages are group-normalized (False for the PSR/NSR controls)."""
        return self.kind not in UNBASELINED

    def score(self, problem: dict, completion: str) -> Score:
        """The reward of one completion; 0 (with the reason logged) when scoring it raises."""
        try:
            return self._score(problem, completion)
        except Exception as error:  # a reward function that raises is a bug: score 0, say why
            reason = f"scoring failed: {type(error).__name__}: {error}"
            log.warning("%s (completion %r)", reason, str(completion)[:200])
            return Score(0.0, False, reason)

    def score_all(self, problems: Sequence[dict], completions: Sequence[str]) -> list[Score]:
        return [self.score(problem, completion) for problem, completion in zip(problems, completions)]

    def _score(self, problem: dict, completion: str) -> Score:
        if not isinstance(completion, str):
            raise TypeError(f"a completion must be a string, got {type(completion).__name__}")
        verdict = self.task.verify(problem, completion)
        if self.kind == "exact":
            reward = float(verdict.correct)
        elif self.kind == "format":
            reward = format_score(completion)
        elif self.kind == "steps":
            reward = step_score(self.task, problem, completion)
        elif self.kind == "random":
            reward = float(self.rng.random() < self.random_p)
        elif self.kind == "positive_only":
            reward = float(verdict.correct)
        else:  # negative_only
            reward = -float(not verdict.correct)
        if self.format_weight:
            reward += self.format_weight * format_score(completion)
        return Score(reward, verdict.correct, verdict.reason)


def for_trl(task_name: str, kind: str = "exact", format_weight: float = 0.0, random_p: float = 0.5, seed: int = 0) -> Callable[..., list[float]]:
    """A reward function with TRL's signature, scoring completions with the task's verifier.

    The returned ``reward(prompts, completions, problem, **kwargs) -> list[float]`` reads each
    problem from the dataset's ``problem`` column (a dict, or its JSON text as in our Parquet
    datasets), which TRL's `GRPOTrainer` passes as a keyword. Completions may be strings or
    conversational message lists (the last message's content is scored). The PSR/NSR controls are
    advantages, not rewards (TRL would subtract a baseline), so they are not offered here.
    """
    if kind in UNBASELINED:
        raise ArborError(f"the '{kind}' control sets advantages directly; TRL takes rewards: use exact, format, steps or random.")
    rewarder = Rewarder(task_name, kind, format_weight, random_p, seed)

    def reward(prompts: list, completions: list, problem: list | None = None, **kwargs: Any) -> list[float]:
        if problem is None:
            raise ArborError("the dataset needs a 'problem' column (the task's problem fields) for arborlab's reward.")
        problems = [json.loads(p) if isinstance(p, str) else p for p in problem]
        texts = [c[-1]["content"] if isinstance(c, list) and c and isinstance(c[-1], dict) else c for c in completions]
        return [score.reward for score in rewarder.score_all(problems, texts)]

    reward.__name__ = f"arborlab_{task_name}_{kind}"
    return reward
