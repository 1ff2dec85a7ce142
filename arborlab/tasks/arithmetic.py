"""Arithmetic: add or multiply two non-negative integers, digit by digit, as on paper.

A problem is ``{"a": 123, "b": 45, "op": "*"}``: ``op`` is ``+`` or ``*``, and a and b have at most
12 digits. The prompt is ``123 * 45 =``. The answer is the result in ASCII decimal: digits only, with
no sign, point, separators or leading zeros (``5535``); whitespace around it is ignored.

Traces work one column per line, from the right. A column line restates the digits it combines and
the carry coming in, then the digit it writes, the carry going out, and the digits of this stage so
far (a digit missing from a shorter number is 0; columns go on while a carry is left)::

    col 1: 7+9+0=16, write 6 carry 1, so far 6          a + b: digit of a + digit of b + carry
    row 2 col 1: 3*4+0=12, write 2 carry 1, so far 2     a * b, row j = a times digit j of b (from
                                                          the right): digit of a * digit of b + carry
    sum col 3: 6+9+0=15, write 5 carry 1, so far 535     a * b when b has 2+ digits: add the rows,
                                                          row j shifted j-1 places (a digit of each
                                                          row in order, 0 where it has none) + carry

Addition is the single stage ``col 1``, ``col 2``, ...; multiplication is ``row 1 col 1``, ..., one
row per digit of b, then (only when b has more than one digit) ``sum col 1``, .... The result is the
last line's digits so far, read as a number (leading zeros arise only when a factor is 0).

Search traces add three forms, for self-correction and for a final check::

    check col 2: 2+5+1=8, not 7              recompute the next column, naming the total just slipped
    back to col 2, carry 1, so far 6         resume at a column reached before, restating its carry in
                                             and the digits so far (left out when there are none)
    verify 586-459=127                       the inverse operation confirms the finished result
                                             (``verify 5535/45=123``; ``verify 0*0=0`` for 0*0)

The state is the position in this one fixed computation. The step checker accepts exactly the next
column line, a check of the next column, a back step to a column reached before, and, once the
computation is finished, a verify line; an invalid step leaves the state as it was. Every valid step
keeps to the one true computation, so `solvable` equals `valid`: arithmetic has no dead ends.

Search is a single line of computation with self-correction (order ``dfs`` only): with a seeded
chance one column slips (a dropped carry, a misread digit or a total off by one), the next line checks
that column and catches the slip, a back step returns to the column, and the computation goes on
correctly to a verify line.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict, register
from arborlab.text import answer_text

MAX_DIGITS = 12
MAX_REASON_CHARS = 200  # reasons quote the step, which may be arbitrarily long
OPERATIONS = {"add": "+", "mul": "*"}
SLIP_CHANCE = 0.5  # the chance that a search trace shows one slip
ASCII_DIGITS = frozenset("0123456789")

LABEL = r"((?:row [0-9]+ |sum )?col [0-9]+)"
TERMS = r"([0-9]+(?:[+*][0-9]+)*)"
DIGITS = r"([0-9]+)"
COLUMN_STEP = re.compile(rf"{LABEL}: {TERMS}={DIGITS}, write {DIGITS} carry {DIGITS}, so far {DIGITS}")
CHECK_STEP = re.compile(rf"check {LABEL}: {TERMS}={DIGITS}, not (0|[1-9][0-9]*)")
BACK_STEP = re.compile(rf"back to {LABEL}, carry {DIGITS}(?:, so far {DIGITS})?")


# ---- the computation ---------------------------------------------------------------------------


def _value(terms: tuple[int, ...], product: bool) -> int:
    """The total of a column's terms: x*y+carry for a product row, else their sum."""
    return terms[0] * terms[1] + terms[2] if product else sum(terms)


def _terms_text(terms: tuple[int, ...], product: bool) -> str:
    text = "+".join(map(str, terms))
    return text.replace("+", "*", 1) if product else text


def _line(label: str, terms_text: str, total: int, so_far_before: str) -> str:
    """A column line for `total` (right or slipped), writing its last digit and carrying the rest."""
    digit, carry = total % 10, total // 10
    return f"{label}: {terms_text}={total}, write {digit} carry {carry}, so far {digit}{so_far_before}"


@dataclass(frozen=True)
class Column:
    """One column of the long computation: what it combines and the digits written before it."""

    label: str
    terms: tuple[int, ...]  # the digits combined, then the carry in
    names: tuple[str, ...]  # what each term is, for reasons
    product: bool  # terms are (digit of a, digit of b, carry) of a product row
    so_far_before: str  # the digits written earlier in this stage

    @property
    def total(self) -> int:
        return _value(self.terms, self.product)

    @property
    def so_far(self) -> str:
        return f"{self.total % 10}{self.so_far_before}"

    @property
    def terms_text(self) -> str:
        return _terms_text(self.terms, self.product)

    def line(self) -> str:
        return _line(self.label, self.terms_text, self.total, self.so_far_before)

    def check_line(self, wrong_total: int) -> str:
        return f"check {self.label}: {self.terms_text}={self.total}, not {wrong_total}"

    def back_line(self) -> str:
        so_far = f", so far {self.so_far_before}" if self.so_far_before else ""
        return f"back to {self.label}, carry {self.terms[-1]}{so_far}"


def _digit(number: str, column: int) -> int:
    """The digit of `number` in `column` (1 is the units), 0 beyond its length."""
    return int(number[-column]) if column <= len(number) else 0


def _sum_columns(prefix: str, numbers: list[str], names: list[str]) -> list[Column]:
    """Adding digit strings column by column from the right, while digits or a carry remain."""
    term_names = tuple(f"the digit of {name}" for name in names) + ("the carry",)
    columns: list[Column] = []
    carry, so_far, index = 0, "", 1
    while index <= max(map(len, numbers)) or carry:
        terms = tuple(_digit(number, index) for number in numbers) + (carry,)
        columns.append(Column(f"{prefix}col {index}", terms, term_names, False, so_far))
        carry, so_far, index = columns[-1].total // 10, columns[-1].so_far, index + 1
    return columns


def _row_columns(a: str, row: int, multiplier: int) -> list[Column]:
    """Multiplying `a` by one digit column by column from the right, while digits or a carry remain."""
    names = ("the digit of a", f"digit {row} of b", "the carry")
    columns: list[Column] = []
    carry, so_far, index = 0, "", 1
    while index <= len(a) or carry:
        terms = (_digit(a, index), multiplier, carry)
        columns.append(Column(f"row {row} col {index}", terms, names, True, so_far))
        carry, so_far, index = columns[-1].total // 10, columns[-1].so_far, index + 1
    return columns


def computation(problem: Problem) -> list[Column]:
    """Every column of the problem's long addition or long multiplication, in order."""
    a, b = str(problem["a"]), str(problem["b"])
    if problem["op"] == "+":
        return _sum_columns("", [a, b], ["a", "b"])
    columns: list[Column] = []
    rows: list[str] = []
    for row, multiplier in enumerate(reversed(b), start=1):
        columns += _row_columns(a, row, int(multiplier))
        rows.append(columns[-1].so_far + "0" * (row - 1))
    if len(rows) > 1:
        columns += _sum_columns("sum ", rows, [f"row {row}" for row in range(1, len(rows) + 1)])
    return columns


def result_of(columns: list[Column]) -> str:
    """The finished computation's result: its last digits so far, without leading zeros."""
    return columns[-1].so_far.lstrip("0") or "0"


def verify_lines(problem: Problem) -> list[str]:
    """The verify lines that confirm the result by the inverse operation (the first is written)."""
    a, b = problem["a"], problem["b"]
    if problem["op"] == "+":
        return [f"verify {a + b}-{b}={a}", f"verify {a + b}-{a}={b}"]
    lines = [f"verify {a * b}/{divisor}={other}" for divisor, other in ((b, a), (a, b)) if divisor]
    return lines or ["verify 0*0=0"]


# ---- answers -----------------------------------------------------------------------------------


def answer_error(text: str, expected: str) -> str | None:
    """Why `text` is not the whole number `expected` written plainly, or None when it is."""
    if not text:
        return "the answer is empty"
    stray = next((char for char in text if char not in ASCII_DIGITS), None)
    if stray is not None:
        return f"the answer contains {stray!r}; a whole number is written with the ASCII digits 0-9 only"
    if text[0] == "0" and len(text) > 1:
        return "the answer has a leading zero"
    if text != expected:
        shown = text if len(text) <= 30 else f"a {len(text)}-digit number"
        return f"the answer is {expected}, not {shown}"
    return None


# ---- steps -------------------------------------------------------------------------------------


class _Replay:
    """The step checker's state: the position in the computation and the furthest one reached."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.columns = computation(problem)
        self.positions = {column.label: index for index, column in enumerate(self.columns)}
        self.position = self.reached = 0

    def step(self, step: str) -> tuple[bool, str]:
        """Whether `step` is valid here, and why; a valid step moves the state on."""
        if match := COLUMN_STEP.fullmatch(step):
            return self._column(*match.groups())
        if match := CHECK_STEP.fullmatch(step):
            return self._check(*match.groups())
        if match := BACK_STEP.fullmatch(step):
            return self._back(*match.groups())
        if step.startswith("verify "):
            return self._verify(step)
        return False, (
            "the step is none of 'LABEL: terms=T, write D carry C, so far S', 'check LABEL: terms=T, not W', "
            "'back to LABEL, carry C, so far S' and 'verify …'"
        )

    def _next(self, label: str) -> Column | str:
        """The next column when `label` names it, else why not."""
        if self.position == len(self.columns):
            return f"the computation is finished; its result is {result_of(self.columns)}"
        column = self.columns[self.position]
        if label != column.label:
            return f"the next column is {column.label}, not {label}"
        return column

    def _column(self, label: str, terms: str, total: str, digit: str, carry: str, so_far: str) -> tuple[bool, str]:
        column = self._next(label)
        if isinstance(column, str):
            return False, column
        reason = _computation_error(column, terms, total)
        if reason is None and digit != str(column.total % 10):
            reason = f"the digit written for {column.total} is {column.total % 10}, not {digit}"
        if reason is None and carry != str(column.total // 10):
            reason = f"the carry out of {column.total} is {column.total // 10}, not {carry}"
        if reason is None and so_far != column.so_far:
            reason = f"the digits so far are {column.so_far}, not {so_far}"
        if reason is not None:
            return False, reason
        self.position += 1
        self.reached = max(self.reached, self.position)
        return True, f"{label} is right"

    def _check(self, label: str, terms: str, total: str, wrong: str) -> tuple[bool, str]:
        column = self._next(label)
        if isinstance(column, str):
            return False, column
        reason = _computation_error(column, terms, total)
        if reason is not None:
            return False, reason
        if wrong == total:
            return False, f"the check names {wrong} as wrong, but {total} is right"
        return True, f"{column.terms_text} is {total}, not {wrong}"

    def _back(self, label: str, carry: str, so_far: str | None) -> tuple[bool, str]:
        if label not in self.positions:
            return False, f"this computation has no column {label}"
        position = self.positions[label]
        column = self.columns[position]
        if position > self.reached:
            return False, f"{label} was not reached earlier in the trace"
        if carry != str(column.terms[-1]):
            return False, f"the carry into {label} is {column.terms[-1]}, not {carry}"
        if (so_far or "") != column.so_far_before:
            before = column.so_far_before or "none"
            return False, f"the digits so far before {label} are {before}, not {so_far or 'none'}"
        self.position = position
        return True, f"returns to {label}"

    def _verify(self, step: str) -> tuple[bool, str]:
        if self.position < len(self.columns):
            return False, f"the computation is not finished; the next column is {self.columns[self.position].label}"
        expected = verify_lines(self.problem)
        if step not in expected:
            result = result_of(self.columns)
            return False, f"the result {result} is confirmed by the inverse operation, as in '{expected[0]}'"
        return True, "the inverse operation confirms the result"


def _computation_error(column: Column, terms: str, total: str) -> str | None:
    """Why `terms` and `total` are not the column's terms and their total, or None when they are."""
    if re.findall(r"[+*]", terms) != re.findall(r"[+*]", column.terms_text):
        return f"{column.label} is {column.terms_text}, not {terms}"
    for name, right, said in zip(column.names, column.terms, re.split(r"[+*]", terms)):
        if said != str(right):
            return f"in {column.label} {name} is {right}, not {said}"
    if total != str(column.total):
        return f"{column.terms_text} is {column.total}, not {total}"
    return None


# ---- the task ----------------------------------------------------------------------------------


@register
class Arithmetic(Task):
    """Long addition and long multiplication of non-negative integers."""

    name = "arithmetic"
    summary = "Add or multiply two whole numbers, with digit-by-digit carries (long addition and multiplication)."
    knobs = (
        Knob("digits", 3, "digits of a (and of b unless 'b_digits' is set)", low=1, high=MAX_DIGITS),
        Knob("b_digits", 0, "digits of b (0: the same as 'digits')", low=0, high=MAX_DIGITS),
        Knob("operation", "add", "add (a+b), mul (a*b) or mixed (either, at random)", choices=("add", "mul", "mixed")),
    )
    search_orders = ("dfs",)  # a single line of computation with self-correction

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """Operands with exactly the asked digits (1 digit: 0 to 9), and the operation."""
        if not solvable:
            raise ArborError("every arithmetic problem has an answer, so no unsolvable ones can be generated.")
        operation = difficulty["operation"]
        op = rng.choice("+*") if operation == "mixed" else OPERATIONS[operation]
        a = _random_operand(rng, difficulty["digits"])
        b = _random_operand(rng, difficulty["b_digits"] or difficulty["digits"])
        return {"a": a, "b": b, "op": op}

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping):
            raise ArborError("an arithmetic problem must be a JSON object with 'a', 'b' and 'op'.")
        for field in ("a", "b"):
            value = problem.get(field)
            if type(value) is not int or not 0 <= value < 10**MAX_DIGITS:
                raise ArborError(
                    f"arithmetic field '{field}' must be a non-negative integer of at most {MAX_DIGITS} digits."
                )
        if problem.get("op") not in ("+", "*"):
            raise ArborError("arithmetic field 'op' must be '+' or '*'.")
        return {"a": problem["a"], "b": problem["b"], "op": problem["op"]}

    def canonical(self, problem: Problem) -> str:
        low, high = sorted((problem["a"], problem["b"]))
        return f"{low} {problem['op']} {high}"

    def prompt(self, problem: Problem) -> str:
        return f"{problem['a']} {problem['op']} {problem['b']} ="

    def solve(self, problem: Problem) -> str:
        a, b = problem["a"], problem["b"]
        return str(a + b if problem["op"] == "+" else a * b)

    def verify(self, problem: Problem, answer: str) -> Verdict:
        if not isinstance(answer, str):
            return Verdict(False, "the answer is not text")
        expected = self.solve(problem)
        reason = answer_error(answer_text(answer), expected)
        if reason is not None:
            return Verdict(False, reason)
        return Verdict(True, f"{self.prompt(problem)} {expected}")

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Replays the steps along the one computation; an invalid step leaves the state as it was."""
        replay = _Replay(problem)
        checks = []
        for index, step in enumerate(steps):
            valid, reason = replay.step(step) if isinstance(step, str) else (False, "the step is not text")
            if len(reason) > MAX_REASON_CHARS:
                reason = reason[: MAX_REASON_CHARS - 3] + "..."
            checks.append(StepCheck(index, step, valid, valid, reason))
        return checks

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        """cot: every column once. search: the same with maybe one caught slip, then a verify line."""
        columns = computation(problem)
        lines = [column.line() for column in columns]
        if style == "search":
            if rng.random() < SLIP_CHANCE:
                at = rng.randrange(len(columns))
                lines[at:at] = _slip_and_catch(columns[at], rng)
            lines.append(verify_lines(problem)[0])
        return lines, result_of(columns)


def _random_operand(rng: random.Random, digits: int) -> int:
    """A number of exactly `digits` digits (one digit: 0 to 9)."""
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _slip_and_catch(column: Column, rng: random.Random) -> list[str]:
    """A wrong line for `column`, the check that catches it and the step back to the column."""
    slips = [(column.terms, column.total + 1)]  # a total off by one
    if column.total > 0:
        slips.append((column.terms, column.total - 1))
    if column.terms[-1] > 0:  # a dropped carry
        dropped = column.terms[:-1] + (0,)
        slips.append((dropped, _value(dropped, column.product)))
    for index, digit in enumerate(column.terms[:-1]):  # a misread digit that changes the total
        for misread in (digit - 1, digit + 1):
            terms = column.terms[:index] + (misread,) + column.terms[index + 1 :]
            if 0 <= misread <= 9 and _value(terms, column.product) != column.total:
                slips.append((terms, _value(terms, column.product)))
    terms, total = rng.choice(slips)
    slip = _line(column.label, _terms_text(terms, column.product), total, column.so_far_before)
    return [slip, column.check_line(total), column.back_line()]
