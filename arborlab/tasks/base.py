"""The task protocol every task follows, and the registry that finds tasks by name.

A task is a family of problems with exact answers. A problem is a plain JSON-able ``dict`` of the
task's named fields (countdown: ``{"numbers": [...], "target": 24, "use_all": true}``), so it can be
stored in Parquet, sent in JSONL and graded by anyone. Each task supplies:

- difficulty knobs (`Knob`), validated with one clear sentence on a bad value or combination;
- a seeded generator that makes solvable problems (or, on request, unsolvable ones);
- an exact solver that decides solvability;
- an answer verifier (exact: rationals, multisets, never floats or regexes);
- a step checker: for each step of a partial trace, is the step valid, and can the state it reaches
  still lead to a solution;
- trace writers for the styles ``direct``, ``cot`` and ``search`` (search orders dfs/bfs/best-first).

Rules the writers keep (tests check them on every task):

1. every trace ends in an answer the verifier accepts;
2. ``cot`` steps are all valid and all still solvable, and no valid chain is shorter;
3. ``search`` steps are valid, except that a task may show a slip that a later step catches and a
   backtrack step abandons (arithmetic does); dead ends are valid steps whose state is unsolvable,
   and backtracking is an explicit step.
"""

from __future__ import annotations

import hashlib
import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Mapping

from arborlab.errors import ArborError
from arborlab.text import format_trace

Problem = dict[str, Any]
STYLES = ("direct", "cot", "search")
SEARCH_ORDERS = ("dfs", "bfs", "best-first")


def problem_rng(task_name: str, seed: int, index: int) -> random.Random:
    """The random stream of problem `index` under `seed`, so any one problem can be remade alone."""
    return random.Random(f"{task_name}:{seed}:{index}")


@dataclass(frozen=True)
class Knob:
    """One difficulty knob: a typed default, allowed values, and a one-line help.

    The type is the default's type (int, bool or str). Ints may carry bounds, strs a tuple of
    choices.
    """

    name: str
    default: int | bool | str
    help: str
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] | None = None

    def allowed(self) -> str:
        """Words for the allowed values, for help tables and error messages."""
        if isinstance(self.default, bool):
            return "true or false"
        if self.choices:
            return " or ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"an integer from {self.low} to {self.high}"
        if self.low is not None:
            return f"an integer of at least {self.low}"
        return "an integer"

    def parse(self, value: Any) -> int | bool | str:
        """Convert `value` (a CLI string or a JSON value) to the knob's type, checking bounds."""
        bad = ArborError(f"difficulty knob '{self.name}' must be {self.allowed()}, got {value!r}.")
        if isinstance(self.default, bool):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise bad
        if isinstance(self.default, int):
            if isinstance(value, bool):
                raise bad
            try:
                number = int(value) if isinstance(value, (int, str)) else None
            except ValueError:
                number = None
            if number is None or (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high
            ):
                raise bad
            return number
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            raise bad
        return value


@dataclass(frozen=True)
class Verdict:
    """The verifier's judgement of one answer."""

    correct: bool
    reason: str


@dataclass(frozen=True)
class StepCheck:
    """The step checker's judgement of one step of a trace.

    `valid`: the step follows the task's rules from the state before it.
    `solvable`: the state after the step can still reach a solution (False when not valid).
    `depth`: how many moves from the start the state after a valid step lies (tasks that search).
    `value`: the number a valid step computed (tasks whose steps compute one), e.g. 107 for 24+83=107.
    """

    index: int
    step: str
    valid: bool
    solvable: bool
    reason: str
    depth: int | None = None
    value: int | None = None


class Task(ABC):
    """A family of problems with exact answers. Subclasses fill in the abstract methods."""

    name: ClassVar[str]
    summary: ClassVar[str]
    knobs: ClassVar[tuple[Knob, ...]]
    #: the search orders this task's `search` writer understands
    search_orders: ClassVar[tuple[str, ...]] = SEARCH_ORDERS
    #: the answer the verifier expects for an unsolvable problem
    no_solution: ClassVar[str] = "no solution"

    # ---- difficulty -------------------------------------------------------------------------

    def difficulty(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full, validated difficulty: defaults updated with `overrides` (strings or values)."""
        by_name = {knob.name: knob for knob in self.knobs}
        chosen = {knob.name: knob.default for knob in self.knobs}
        for key, value in (overrides or {}).items():
            if key not in by_name:
                known = ", ".join(by_name) or "none"
                raise ArborError(f"task '{self.name}' has no difficulty knob '{key}'; its knobs are: {known}.")
            chosen[key] = by_name[key].parse(value)
        self.check_difficulty(chosen)
        return chosen

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        """Reject impossible knob combinations with an `ArborError` (one sentence). Default: none."""

    # ---- problems ---------------------------------------------------------------------------

    @abstractmethod
    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """A new problem drawn with `rng` at a validated `difficulty`, solvable or provably not."""

    def problems(
        self, n: int, seed: int = 0, difficulty: Mapping[str, Any] | None = None, solvable: bool = True
    ) -> Iterator[Problem]:
        """`n` problems; problem i depends only on (task, seed, i), so any slice is reproducible."""
        chosen = self.difficulty(difficulty)
        for index in range(n):
            yield self.generate(problem_rng(self.name, seed, index), chosen, solvable)

    @abstractmethod
    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        """Check a problem's fields (as read from JSON) and return it normalized.

        Raises `ArborError` naming the bad field when the problem is malformed.
        """

    def canonical(self, problem: Problem) -> str:
        """A string equal for problems that are the same question (used for split hashing)."""
        return json.dumps(problem, sort_keys=True, separators=(",", ":"))

    def problem_hash(self, problem: Problem) -> str:
        """A stable hex digest of the task name and the canonical problem."""
        return hashlib.sha256(f"{self.name}\n{self.canonical(problem)}".encode()).hexdigest()

    @abstractmethod
    def prompt(self, problem: Problem) -> str:
        """The prompt a model sees: one line, in a regular, tokenizer-friendly format."""

    # ---- solving and grading ----------------------------------------------------------------

    @abstractmethod
    def solve(self, problem: Problem) -> str | None:
        """An answer the verifier accepts, or None when the problem has no solution."""

    def is_solvable(self, problem: Problem) -> bool:
        """Whether any answer other than `no_solution` is correct."""
        return self.solve(problem) is not None

    @abstractmethod
    def verify(self, problem: Problem, answer: str) -> Verdict:
        """Grade an answer string exactly. Never raises on bad answer text: says why instead."""

    def answer_key(self, problem: Problem, answer: str) -> str:
        """A key equal for answers that say the same thing (for majority voting). Default: the text."""
        return " ".join(answer.split())

    @abstractmethod
    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Judge each step of a (partial) trace in order, replaying the state it reaches."""

    def step_kind(self, step: str) -> str:
        """What kind of step a step line is meant to be, read from its text alone (e.g. countdown's
        "sum" or "product >= 1000"), for tallying where wrong answers go wrong. Default: "step"."""
        return "step"

    # ---- traces -----------------------------------------------------------------------------

    @abstractmethod
    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        """The step lines and the answer of a trace in `style` (`order` matters for search)."""

    def check_trace_style(self, style: str, order: str = "dfs") -> None:
        """Refuse a trace style this task cannot write (and, for search traces, an unknown order)."""
        if style not in STYLES:
            raise ArborError(f"trace style must be one of {', '.join(STYLES)}, got '{style}'.")
        if style == "search" and order not in self.search_orders:
            raise ArborError(
                f"task '{self.name}' writes search traces in the orders {', '.join(self.search_orders)}, got '{order}'."
            )

    def trace(self, problem: Problem, style: str = "cot", order: str = "dfs", rng: random.Random | None = None) -> str:
        """A whole completion in the shared format (see `arborlab.text`)."""
        self.check_trace_style(style, order)
        if style == "direct":
            answer = self.solve(problem)
            return format_trace([], self.no_solution if answer is None else answer)
        steps, answer = self.write_steps(problem, style, order, rng or random.Random(self.problem_hash(problem)))
        return format_trace(steps, answer)


_REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task to the registry under `cls.name`."""
    if cls.name in _REGISTRY:
        raise ValueError(f"task name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def task_names() -> list[str]:
    """The names of all registered tasks, sorted."""
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """A fresh instance of the task called `name` (``rg:DATASET`` for reasoning-gym's datasets).

    Raises an `ArborError` listing the known tasks when there is none of that name.
    """
    if name.startswith("rg:"):
        from arborlab.tasks.reasoning_gym import reasoning_gym_task

        return reasoning_gym_task(name)
    if name not in _REGISTRY:
        raise ArborError(
            f"unknown task '{name}'; known tasks: {', '.join(task_names())} (and rg:NAME for reasoning-gym's datasets)."
        )
    return _REGISTRY[name]()
