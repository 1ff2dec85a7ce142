"""reasoning-gym datasets as answer-only arborlab tasks: ``get_task("rg:NAME")``.

Any of reasoning-gym's procedural datasets becomes a task whose problem is reasoning-gym's own entry
(``{"question", "answer", "metadata"}``) and whose verifier is the dataset's ``score_answer``
(correct means a score of 1.0). Its int, bool and str config fields become difficulty knobs.
There is no step checker and no chain-of-thought writer, so only ``direct`` traces exist, and the
prompt is reasoning-gym's question (which may span several lines).

Needs the optional extra: ``pip install 'arborlab[reasoning-gym]'``.
"""

from __future__ import annotations

import dataclasses
import json
import random
from functools import lru_cache
from typing import Any, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict
from arborlab.text import answer_text

PREFIX = "rg:"
_INTERNAL_FIELDS = {"seed", "size"}


def _factory():
    try:
        from reasoning_gym import factory
    except ImportError:
        raise ArborError(
            "reasoning-gym tasks need the optional extra: pip install 'arborlab[reasoning-gym]'."
        ) from None
    return factory


def dataset_names() -> list[str]:
    """reasoning-gym's registered dataset names (empty when it is not installed)."""
    try:
        return sorted(_factory().DATASETS)
    except ArborError:
        return []


def _knobs(config_cls) -> tuple[Knob, ...]:
    """The config fields with an int, bool or str default, as knobs."""
    knobs = []
    for field in dataclasses.fields(config_cls):
        default = field.default
        if field.name in _INTERNAL_FIELDS or type(default) not in (int, bool, str):
            continue
        knobs.append(Knob(field.name, default, f"reasoning-gym config field '{field.name}'"))
    return tuple(knobs)


class ReasoningGymTask(Task):
    """Base of the per-dataset classes that `reasoning_gym_task` makes."""

    dataset: str
    search_orders = ()

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        self._dataset(tuple(sorted(difficulty.items())), seed=0)

    @lru_cache(maxsize=64)
    def _dataset(self, knobs: tuple[tuple[str, Any], ...], seed: int):
        try:
            return _factory().create_dataset(self.dataset, size=1, seed=seed, **dict(knobs))
        except (AssertionError, ValueError, TypeError) as error:
            raise ArborError(f"reasoning-gym rejected the knobs of '{self.dataset}': {error}.") from None

    @lru_cache(maxsize=1)
    def _scorer(self):
        return self._dataset((), seed=0)

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        if not solvable:
            raise ArborError("reasoning-gym datasets make only solvable problems; unsolvable ones can't be generated.")
        entry = self._dataset(tuple(sorted(difficulty.items())), seed=rng.randrange(2**31))[0]
        return json.loads(json.dumps(entry, default=str))  # tuples become lists, as after any JSON trip

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping) or not isinstance(problem.get("question"), str):
            raise ArborError(f"a {self.name} problem must be a reasoning-gym entry with a 'question' string.")
        return dict(problem)

    def prompt(self, problem: Problem) -> str:
        return problem["question"]

    def solve(self, problem: Problem) -> str | None:
        answer = problem.get("answer")
        return None if answer is None else str(answer)

    def verify(self, problem: Problem, answer: str) -> Verdict:
        try:
            score = float(self._scorer().score_answer(answer_text(answer), problem))
        except Exception as error:  # a third-party scorer: any failure is a wrong answer, said plainly
            return Verdict(False, f"reasoning-gym's scorer failed on this answer ({type(error).__name__})")
        return Verdict(score == 1.0, f"reasoning-gym's score_answer gave {score:g}")

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        reason = "reasoning-gym tasks are answer-only and have no step checker"
        return [StepCheck(index, step, False, False, reason) for index, step in enumerate(steps)]

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        raise ArborError(f"{self.name} is answer-only: use style 'direct'.")


def reasoning_gym_task(name: str) -> Task:
    """The task `rg:DATASET` for one of reasoning-gym's datasets."""
    dataset = name.removeprefix(PREFIX)
    registry = _factory().DATASETS
    if dataset not in registry:
        raise ArborError(f"reasoning-gym has no dataset '{dataset}'; it has: {', '.join(sorted(registry))}.")
    return _task_class(dataset, registry[dataset][1])()


@lru_cache(maxsize=None)
def _task_class(dataset: str, config_cls) -> type[Task]:
    attributes = {
        "name": PREFIX + dataset,
        "dataset": dataset,
        "summary": f"reasoning-gym's '{dataset}' (answer-only, scored by its score_answer)",
        "knobs": _knobs(config_cls),
    }
    return type(f"ReasoningGym_{dataset}", (ReasoningGymTask,), attributes)
