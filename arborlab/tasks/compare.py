"""Compare: is offer A the better deal than offer B? Answer ``yes`` or ``no``.

The yes/no "better deal" family of interpretability studies. Each offer is two positive integers
whose quotient is its rate; the kind says which rate is better:

    kind         fields (A, then B)                           rate               better
    unit_price   price_a quantity_a price_b quantity_b        dollars per unit   lower
    speed        distance_a time_a distance_b time_b          miles per hour     higher
    wage         pay_a hours_a pay_b hours_b                  dollars per hour   higher

A problem is ``{"kind": "unit_price", "price_a": 12, "quantity_a": 4, "price_b": 15, "quantity_b": 6}``;
every number is an integer from 1 to 10**12 (a zero quantity, time or hours is a malformed problem, and
so is a zero price, distance or pay: every offer has a rate above zero). The answer is ``yes`` when
A's rate is strictly better, else ``no`` (case-insensitive, surrounding whitespace allowed), so a
tie, which the generator never makes, is answered ``no``. The decision is exact: the rates a/b and
c/d are compared by the integers a*d and c*b.

The prompt is one line, regular per kind (units are always plural, for a word-level vocabulary)::

    A: 12 dollars for 4 units, B: 15 dollars for 6 units. is A the better deal?
    A: 12 miles in 4 hours, B: 15 miles in 6 hours. is A faster?
    A: 12 dollars for 4 hours, B: 15 dollars for 6 hours. does A pay more per hour?

Trace steps (values are integers or reduced fractions ``p/q``, q > 1; "unit_price" words shown).
The exact route computes both rates and compares them; the totals route is the shortcut that
compares the offers' totals side by side, which decides only when one offer has at least as much
for at most as much (dominance):

    A: 12/4 = 3 dollars per unit          A's rate (either offer first; from the start or the exact route)
    3 > 5/2, so B is cheaper              compare A's rate with B's, once both are computed
    try totals: 12 < 15 dollars           compare one side of the offers (from the start or the totals route)
    totals decide, so A is cheaper        conclude on the totals route, both sides compared, if they decide
    totals do not decide                  declare the totals route a dead end
    check: 12*6 = 72 > 15*4 = 60          confirm a conclusion by cross-multiplication (a*d vs c*b)
    back to start                         abandon the route, forgetting its facts

A tie concludes ``so neither is cheaper`` (``is faster``, ``pays more``). A step is valid when it is
true and allowed on the current route; an invalid step leaves the state as it was. The state is
solvable unless it is on a totals route that cannot decide (the dead end ``back to start`` leaves).

cot writes the two rates and their comparison (no valid chain is shorter: a conclusion needs two
facts first). search, in the order dfs, tries one total, declares the dead end and goes back to the
exact route; bfs compares both totals before giving up; best-first takes the exact route at once.
Where the totals decide, dfs and bfs conclude on the totals route instead. Every search ends with a
check.

For studies, `Compare.input_fields`, `Compare.sweep` and `Compare.minimal_pair` name the inputs,
vary one of them, and make pairs of problems one number apart with opposite answers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from math import gcd
from typing import Any, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict, register
from arborlab.text import answer_text

MAX_NUMBER = 10**12
GENERATION_TRIES = 20_000
MINIMAL_PAIR_TRIES = 200
SIGNS = {-1: "<", 0: "=", 1: ">"}

NUM = r"(?:0|[1-9][0-9]{0,29})"  # at most 30 digits: products of two numbers up to 10**12 fit
VALUE = rf"{NUM}(?:/{NUM})?"
RATE_STEP = re.compile(rf"([AB]): ({NUM})/({NUM}) = ({VALUE}) ([a-z]+ per [a-z]+)")
COMPARE_STEP = re.compile(rf"({VALUE}) ([<>=]) ({VALUE}), so (A|B|neither) ([a-z ]+)")
TOTALS_STEP = re.compile(rf"try totals: ({NUM}) ([<>=]) ({NUM}) ([a-z]+)")
DECIDE_STEP = re.compile(r"totals decide, so (A|B|neither) ([a-z ]+)")
NO_DECIDE_STEP = "totals do not decide"
CHECK_STEP = re.compile(rf"check: ({NUM})\*({NUM}) = ({NUM}) ([<>=]) ({NUM})\*({NUM}) = ({NUM})")
BACK_STEP = "back to start"


@dataclass(frozen=True)
class Kind:
    """The words and fields of one kind of offer; `top`/`bottom` are the rate's numerator/denominator."""

    name: str
    fields: tuple[str, str, str, str]  # top A, bottom A, top B, bottom B
    top_word: str
    bottom_word: str
    offer: str  # the prompt's description of one offer, with {top} and {bottom}
    question: str
    rate_unit: str
    lower_is_better: bool
    verdict: str  # what the better offer "is" in a conclusion

    def totals_words(self) -> tuple[str, str]:
        return self.top_word, self.bottom_word


KINDS = {
    "unit_price": Kind(
        "unit_price", ("price_a", "quantity_a", "price_b", "quantity_b"), "dollars", "units",
        "{top} dollars for {bottom} units", "is A the better deal?", "dollars per unit", True, "is cheaper",
    ),
    "speed": Kind(
        "speed", ("distance_a", "time_a", "distance_b", "time_b"), "miles", "hours",
        "{top} miles in {bottom} hours", "is A faster?", "miles per hour", False, "is faster",
    ),
    "wage": Kind(
        "wage", ("pay_a", "hours_a", "pay_b", "hours_b"), "dollars", "hours",
        "{top} dollars for {bottom} hours", "does A pay more per hour?", "dollars per hour", False, "pays more",
    ),
}


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _describe(value: Any) -> str:
    """A short repr of a user-given value for an error message (never fails on huge ints)."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too large to print"
    return text if len(text) <= 40 else text[:37] + "..."


# ---- one problem's offers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Offers:
    """A validated problem as numbers: A's rate is a/b, B's is c/d."""

    kind: Kind
    a: int
    b: int
    c: int
    d: int

    @staticmethod
    def of(problem: Problem) -> "Offers":
        kind = KINDS[problem["kind"]]
        return Offers(kind, *(problem[field] for field in kind.fields))

    def order(self) -> int:
        """The sign of A's rate minus B's rate (exact, by cross-multiplication)."""
        return _sign(self.a * self.d - self.c * self.b)

    def winner(self) -> str:
        """The offer with the strictly better rate: "A", "B" or "neither"."""
        order = -self.order() if self.kind.lower_is_better else self.order()
        return {1: "A", -1: "B", 0: "neither"}[order]

    def answer(self) -> str:
        return "yes" if self.winner() == "A" else "no"

    def totals_decide(self) -> bool:
        """Whether one offer has at least as much top for at most as much bottom (dominance)."""
        return (self.a <= self.c and self.b >= self.d) or (self.a >= self.c and self.b <= self.d)

    def rate(self, offer: str) -> Fraction:
        return Fraction(self.a, self.b) if offer == "A" else Fraction(self.c, self.d)

    def numbers(self, offer: str) -> tuple[int, int]:
        return (self.a, self.b) if offer == "A" else (self.c, self.d)

    def total(self, side: int) -> tuple[int, int]:
        """A's and B's numbers on one side (0: top, 1: bottom)."""
        return (self.a, self.c) if side == 0 else (self.b, self.d)

    def conclusion(self) -> str:
        return f"so {self.winner()} {self.kind.verdict}"

    def rate_line(self, offer: str) -> str:
        top, bottom = self.numbers(offer)
        return f"{offer}: {top}/{bottom} = {self.rate(offer)} {self.kind.rate_unit}"

    def compare_line(self) -> str:
        return f"{self.rate('A')} {SIGNS[self.order()]} {self.rate('B')}, {self.conclusion()}"

    def totals_line(self, side: int) -> str:
        x, y = self.total(side)
        return f"try totals: {x} {SIGNS[_sign(x - y)]} {y} {self.kind.totals_words()[side]}"

    def decide_line(self) -> str:
        return f"totals decide, {self.conclusion()}"

    def check_line(self) -> str:
        a, b, c, d = self.a, self.b, self.c, self.d
        return f"check: {a}*{d} = {a * d} {SIGNS[self.order()]} {c}*{b} = {c * b}"


# ---- the step checker's state and rules --------------------------------------------------------


@dataclass(frozen=True)
class State:
    """The facts established on the current route of a trace."""

    route: str = "start"  # "start", "exact", "totals" or "dead"
    rates: frozenset[str] = frozenset()  # offers whose rate is computed
    totals: frozenset[int] = frozenset()  # sides compared: 0 top, 1 bottom
    decided: bool = False
    checked: bool = False

    def solvable(self, offers: Offers) -> bool:
        """Whether this state still leads to the decision by the trace grammar."""
        if self.route == "dead":
            return False
        return self.route != "totals" or offers.totals_decide()


def _parse_value(text: str) -> tuple[Fraction | None, str]:
    """A written rate (integer or reduced fraction) as a Fraction, or (None, why it is not allowed)."""
    top, _, bottom = text.partition("/")
    if not bottom:
        return Fraction(int(top)), ""
    p, q = int(top), int(bottom)
    if q < 2 or gcd(p, q) != 1:
        return None, f"{text} is not written as an integer or a reduced fraction"
    return Fraction(p, q), ""


def _apply(step: str, state: State, offers: Offers) -> tuple[State | None, str]:
    """The state after `step`, with a reason; (None, why) when the step is not valid."""
    if step == BACK_STEP:
        if state.route == "start":
            return None, "the trace is already at the start"
        return State(), "goes back to the start"
    if state.route == "dead":
        return None, "the totals route is a dead end; the only way on is 'back to start'"
    if match := RATE_STEP.fullmatch(step):
        return _rate_step(match, state, offers)
    if match := COMPARE_STEP.fullmatch(step):
        return _compare_step(match, state, offers)
    if match := TOTALS_STEP.fullmatch(step):
        return _totals_step(match, state, offers)
    if match := DECIDE_STEP.fullmatch(step):
        return _decide_step(match, state, offers)
    if step == NO_DECIDE_STEP:
        return _no_decide_step(state, offers)
    if match := CHECK_STEP.fullmatch(step):
        return _check_step(match, state, offers)
    return None, "the step is not a rate, comparison, totals, check or 'back to start' line"


def _rate_step(match: re.Match, state: State, offers: Offers) -> tuple[State | None, str]:
    offer, top, bottom, value, unit = match.groups()
    if state.route not in ("start", "exact"):
        return None, "rates are computed from the start, not on the totals route"
    if offer in state.rates:
        return None, f"{offer}'s rate is already computed"
    if (int(top), int(bottom)) != offers.numbers(offer):
        return None, f"{offer}'s rate is {'/'.join(map(str, offers.numbers(offer)))}, not {top}/{bottom}"
    claimed, why = _parse_value(value)
    if claimed is None:
        return None, why
    if claimed != offers.rate(offer):
        return None, f"{top}/{bottom} is {offers.rate(offer)}, not {value}"
    if unit != offers.kind.rate_unit:
        return None, f"the rate is in {offers.kind.rate_unit}, not {unit}"
    return replace(state, route="exact", rates=state.rates | {offer}), f"{offer}'s rate is {value}"


def _compare_step(match: re.Match, state: State, offers: Offers) -> tuple[State | None, str]:
    left, sign, right, who, verdict = match.groups()
    if state.route != "exact" or state.rates != {"A", "B"} or state.decided:
        return None, "a comparison needs both rates computed on this route, and comes once"
    for text, offer in ((left, "A"), (right, "B")):
        claimed, why = _parse_value(text)
        if claimed is None:
            return None, why
        if claimed != offers.rate(offer):
            return None, f"{offer}'s rate is {offers.rate(offer)}, not {text}"
    if sign != SIGNS[offers.order()]:
        return None, f"{left} {sign} {right} is false"
    return _conclude(who, verdict, state, offers)


def _conclude(who: str, verdict: str, state: State, offers: Offers) -> tuple[State | None, str]:
    if verdict != offers.kind.verdict:
        return None, f"the conclusion says '{verdict}', but offers of this kind are compared by '{offers.kind.verdict}'"
    if who != offers.winner():
        return None, f"the better offer is {offers.winner()}, not {who}"
    return replace(state, decided=True), f"concludes {offers.conclusion()}"


def _totals_step(match: re.Match, state: State, offers: Offers) -> tuple[State | None, str]:
    x, sign, y, word = match.groups()
    if state.route not in ("start", "totals") or state.decided:
        return None, "totals are compared from the start or on an undecided totals route"
    if word not in offers.kind.totals_words():
        return None, f"the totals are in {' and '.join(offers.kind.totals_words())}, not {word}"
    side = offers.kind.totals_words().index(word)
    if side in state.totals:
        return None, f"the {word} are already compared"
    true_x, true_y = offers.total(side)
    if (int(x), int(y)) != (true_x, true_y):
        return None, f"A and B have {true_x} and {true_y} {word}, not {x} and {y}"
    if sign != SIGNS[_sign(true_x - true_y)]:
        return None, f"{x} {sign} {y} is false"
    return replace(state, route="totals", totals=state.totals | {side}), f"compares the {word}"


def _decide_step(match: re.Match, state: State, offers: Offers) -> tuple[State | None, str]:
    if state.route != "totals" or len(state.totals) < 2 or state.decided:
        return None, "the totals decide only once both sides are compared"
    if not offers.totals_decide():
        return None, "the totals do not decide: neither offer has at least as much for at most as much"
    return _conclude(*match.groups(), state, offers)


def _no_decide_step(state: State, offers: Offers) -> tuple[State | None, str]:
    if state.route != "totals" or state.decided:
        return None, "only an undecided totals route can be declared a dead end"
    if offers.totals_decide():
        return None, "the totals do decide: one offer has at least as much for at most as much"
    return replace(state, route="dead"), "the totals route is a dead end"


def _check_step(match: re.Match, state: State, offers: Offers) -> tuple[State | None, str]:
    x1, y1, p1, sign, x2, y2, p2 = map(match.group, range(1, 8))
    if not state.decided or state.checked:
        return None, "a check confirms a conclusion already drawn, once"
    o = offers
    if (int(x1), int(y1), int(x2), int(y2)) != (o.a, o.d, o.c, o.b):
        return None, f"the cross-multiplication is {o.a}*{o.d} against {o.c}*{o.b}"
    for x, y, product in ((x1, y1, p1), (x2, y2, p2)):
        if int(x) * int(y) != int(product):
            return None, f"{x}*{y} is {int(x) * int(y)}, not {product}"
    if sign != SIGNS[o.order()]:
        return None, f"{p1} {sign} {p2} is false"
    return replace(state, checked=True), "the cross-multiplication confirms the conclusion"


# ---- generation --------------------------------------------------------------------------------


def _within_gap(a: int, b: int, c: int, d: int, max_gap: int) -> bool:
    """Whether the rates a/b and c/d differ by at most `max_gap` percent of the larger."""
    p, q = a * d, c * b
    return 100 * abs(p - q) <= max_gap * max(p, q)


def _meets(values: tuple[int, int, int, int], difficulty: Mapping[str, Any]) -> bool:
    """Whether offers (a, b) and (c, d) make a problem the knobs allow (the kind plays no part)."""
    a, b, c, d = values
    if not all(1 <= v <= difficulty["max_value"] for v in values) or a * d == c * b:
        return False
    if not difficulty["shortcuts"] and ((a <= c and b >= d) or (a >= c and b <= d)):
        return False
    return _within_gap(a, b, c, d, difficulty["max_gap"])


def _numerator_range(a: int, b: int, d: int, difficulty: Mapping[str, Any]) -> range:
    """The numerators c that keep c/d within the gap of a/b, that the shortcut rule allows, up to max_value.

    From 100*|a*d - c*b| <= g*max(a*d, c*b): c*b >= a*d*(100-g)/100 and c*b*(100-g) <= 100*a*d.
    """
    top, gap = difficulty["max_value"], difficulty["max_gap"]
    low, high = 1, top
    if gap < 100:
        low = max(low, -(-a * d * (100 - gap) // (100 * b)))
        high = min(high, 100 * a * d // ((100 - gap) * b))
    if not difficulty["shortcuts"]:  # neither offer may have at least as much for at most as much
        if b == d:
            return range(0)
        low, high = (max(low, a + 1), high) if b < d else (low, min(high, a - 1))
    return range(low, high + 1)


def _draw_offers(rng: random.Random, difficulty: Mapping[str, Any]) -> tuple[int, int, int, int] | None:
    """Numbers (a, b, c, d) the knobs allow: a, b, d uniform, c uniform among those allowed; None if none."""
    top = difficulty["max_value"]
    for _ in range(GENERATION_TRIES):
        a, b, d = rng.randint(1, top), rng.randint(1, top), rng.randint(1, top)
        options = _numerator_range(a, b, d, difficulty)
        if options:
            c = rng.choice(options)
            if a * d != c * b:
                return a, b, c, d
    return None


@lru_cache(maxsize=None)
def _feasible(max_value: int, max_gap: int, shortcuts: bool) -> bool:
    """Whether any problem meets the knobs.

    From max_value 11 on, (n-2)/(n-1) against (n-1)/n (n = max_value) always does: neither dominates
    and the rates differ by 1/(n-1)**2 <= 1 percent. Below that, every pair is tried.
    """
    if max_value >= 11:
        return True
    difficulty = {"max_value": max_value, "max_gap": max_gap, "shortcuts": shortcuts}
    span = range(1, max_value + 1)
    return any(_meets((a, b, c, d), difficulty) for a in span for b in span for c in span for d in span)


def _nearest_flip(values: tuple[int, ...], index: int, difficulty: Mapping[str, Any]) -> int | None:
    """The value nearest values[index] that flips which rate is larger (no tie) within the knobs.

    A's rate minus B's has the sign of a*d - c*b, which is linear in each number, so the flipping
    values are those past its root; the nearest past the root is the nearest to the original.
    """
    a, b, c, d = values
    slope, offset = [(d, -c * b), (-c, a * d), (-b, a * d), (a, -c * b)][index]
    root = Fraction(-offset, slope)
    top = difficulty["max_value"]
    if values[index] > root:
        candidates = range(min(-(-root.numerator // root.denominator) - 1, top), 0, -1)
    else:
        candidates = range(max(root.numerator // root.denominator + 1, 1), top + 1)
    for value in candidates:
        changed = values[:index] + (value,) + values[index + 1 :]
        if _meets(changed, difficulty):
            return value
    return None


# ---- the task ----------------------------------------------------------------------------------


@register
class Compare(Task):
    """Is offer A the better deal: a lower unit price, a higher speed or a higher wage?"""

    name = "compare"
    summary = "Yes/no: is offer A the better deal than offer B (unit price, speed, wage)?"
    knobs = (
        Knob("kind", "unit_price", "what the offers are ('mixed': a kind per problem)",
             choices=("unit_price", "speed", "wage", "mixed")),
        Knob("max_value", 20, "largest number in an offer (the smallest is 1)", low=2, high=10_000),
        Knob("max_gap", 100, "the rates differ by at most this percent of the larger (small: close calls)",
             low=1, high=100),
        Knob("shortcuts", False, "allow problems the totals decide (one offer: as much or more, for as much or less)"),
    )

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        top, gap = difficulty["max_value"], difficulty["max_gap"]
        if not _feasible(top, 100, difficulty["shortcuts"]):
            raise ArborError(
                f"difficulty knob 'shortcuts' must be true when 'max_value' is {top}, since the totals decide "
                "every problem with numbers that small."
            )
        if not _feasible(top, gap, difficulty["shortcuts"]):
            raise ArborError(
                f"difficulty knob 'max_gap' ({gap}) is too small for 'max_value' {top}: no two offers with "
                "numbers that small have rates that close, so raise one of them."
            )

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """Offers drawn within the knobs, then swapped half the time so that yes and no are equally likely."""
        if not solvable:
            raise ArborError(
                "every compare problem has a yes or no answer, so unsolvable problems cannot be generated."
            )
        kind = rng.choice(sorted(KINDS)) if difficulty["kind"] == "mixed" else difficulty["kind"]
        values = _draw_offers(rng, difficulty)
        if values is None:
            raise ArborError(
                f"no compare problem was found for these knobs in {GENERATION_TRIES} tries; "
                "raise 'max_gap' or 'max_value'."
            )
        problem = self._problem(kind, values)
        if (self.solve(problem) == "yes") != (rng.random() < 0.5):
            problem = self._problem(kind, values[2:] + values[:2])
        return problem

    def _problem(self, kind: str, values: tuple[int, ...]) -> Problem:
        return {"kind": kind, **dict(zip(KINDS[kind].fields, values))}

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping):
            raise ArborError("a compare problem must be a JSON object with a 'kind' and the offers' numbers.")
        kind = problem.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise ArborError(f"compare field 'kind' must be {', '.join(KINDS)}, got {_describe(kind)}.")
        fields = self.input_fields(kind)
        for key in problem:
            if key != "kind" and key not in fields:
                raise ArborError(
                    f"compare field {_describe(key)} is not one of kind '{kind}', whose fields are {', '.join(fields)}."
                )
        for field in fields:
            value = problem.get(field)
            if type(value) is not int or not 1 <= value <= MAX_NUMBER:
                raise ArborError(
                    f"compare field '{field}' must be an integer from 1 to 10**12, got {_describe(value)}."
                )
        return self._problem(kind, tuple(problem[field] for field in fields))

    def prompt(self, problem: Problem) -> str:
        offers = Offers.of(problem)
        kind = offers.kind
        first = kind.offer.format(top=offers.a, bottom=offers.b)
        second = kind.offer.format(top=offers.c, bottom=offers.d)
        return f"A: {first}, B: {second}. {kind.question}"

    def solve(self, problem: Problem) -> str:
        return Offers.of(problem).answer()

    def verify(self, problem: Problem, answer: str) -> Verdict:
        try:
            offers = Offers.of(self.validate_problem(problem))
        except ArborError as error:
            return Verdict(False, f"the problem is malformed: {error}")
        text = answer_text(answer) if isinstance(answer, str) else ""
        word = text.strip().lower()
        if word not in ("yes", "no"):
            return Verdict(False, f"the answer must be yes or no, got {_describe(text)}")
        unit = offers.kind.rate_unit
        why = f"A's rate is {offers.rate('A')} {unit} and B's is {offers.rate('B')}, {offers.conclusion()}"
        if word != offers.answer():
            return Verdict(False, f"the answer is {offers.answer()}: {why}")
        return Verdict(True, why)

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Replays the steps from the start; an invalid step leaves the state as it was."""
        try:
            offers = Offers.of(self.validate_problem(problem))
        except ArborError as error:
            reason = f"the problem is malformed: {error}"
            return [StepCheck(index, step, False, False, reason) for index, step in enumerate(steps)]
        state = State()
        checks = []
        for index, step in enumerate(steps):
            if not isinstance(step, str):
                checks.append(StepCheck(index, step, False, False, "a step must be a string"))
                continue
            new_state, reason = _apply(step, state, offers)
            if new_state is None:
                checks.append(StepCheck(index, step, False, False, reason))
                continue
            state = new_state
            solvable = state.solvable(offers)
            reason += "; the decision is still reachable" if solvable else "; this route cannot decide"
            checks.append(StepCheck(index, step, True, solvable, reason))
        return checks

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        """cot: both rates and their comparison. search: see `_search_steps`."""
        offers = Offers.of(problem)
        if style == "cot":
            return [offers.rate_line("A"), offers.rate_line("B"), offers.compare_line()], offers.answer()
        return _search_steps(offers, order, rng), offers.answer()

    # ---- for interpretability studies ----------------------------------------------------------

    def input_fields(self, kind: str) -> tuple[str, ...]:
        """The named numeric inputs of `kind`: A's top and bottom, then B's."""
        if not isinstance(kind, str) or kind not in KINDS:
            raise ArborError(f"compare kind must be {', '.join(KINDS)}, got {_describe(kind)}.")
        return KINDS[kind].fields

    def sweep(self, problem: Mapping[str, Any], field: str, values: list[int]) -> list[Problem]:
        """Copies of `problem` with `field` set to each of `values`, all else fixed (ties allowed)."""
        base = self.validate_problem(problem)
        fields = self.input_fields(base["kind"])
        if field not in fields:
            raise ArborError(
                f"cannot sweep {_describe(field)}: the fields of kind '{base['kind']}' are {', '.join(fields)}."
            )
        return [self.validate_problem({**base, field: value}) for value in values]

    def minimal_pair(
        self, rng: random.Random, difficulty: Mapping[str, Any] | None = None, field: str | None = None
    ) -> tuple[Problem, Problem]:
        """Two problems within the knobs, differing in one number, one answered yes and one no.

        The first is generated; the second changes one field (`field`, or one drawn with `rng`) to the
        nearest value that flips the answer without a tie.
        """
        chosen = self.difficulty(difficulty)
        if field is not None:
            chosen = {**chosen, "kind": _kind_with_field(field, chosen["kind"])}
        for _ in range(MINIMAL_PAIR_TRIES):
            first = self.generate(rng, chosen)
            fields = self.input_fields(first["kind"])
            values = tuple(first[name] for name in fields)
            indexes = [fields.index(field)] if field is not None else rng.sample(range(4), 4)
            for index in indexes:
                value = _nearest_flip(values, index, chosen)
                if value is not None:
                    return first, {**first, fields[index]: value}
        raise ArborError(
            f"no minimal pair was found for these knobs in {MINIMAL_PAIR_TRIES} problems; "
            "raise 'max_gap' or 'max_value'."
        )


def _kind_with_field(field: str, kind: str) -> str:
    """The kind, among `kind` (all kinds for "mixed"), that has the input `field`."""
    kinds = sorted(KINDS) if kind == "mixed" else [kind]
    for name in kinds:
        if field in KINDS[name].fields:
            return name
    fields = [f for name in kinds for f in KINDS[name].fields]
    raise ArborError(f"minimal pair field {_describe(field)} is not one of {', '.join(fields)}.")


def _search_steps(offers: Offers, order: str, rng: random.Random) -> list[str]:
    """The steps of a search in `order` (see the module docstring); `rng` picks which total and
    which rate come first.
    """
    steps: list[str] = []
    if order != "best-first":
        sides = rng.sample((0, 1), 2)
        steps.append(offers.totals_line(sides[0]))
        if order == "bfs" or offers.totals_decide():
            steps.append(offers.totals_line(sides[1]))
        if offers.totals_decide():
            return steps + [offers.decide_line(), offers.check_line()]
        steps += [NO_DECIDE_STEP, BACK_STEP]
    steps += [offers.rate_line(offer) for offer in rng.sample(("A", "B"), 2)]
    return steps + [offers.compare_line(), offers.check_line()]
