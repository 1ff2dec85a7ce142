"""Compare's verifier, generator, sweeps, minimal pairs and step checker against an independent reference.

The reference here decides with Python Fractions from its own table of kinds (field names and which
rate is better), and checks knobs and step claims from first principles; it shares no code with
arborlab's cross-multiplying implementation.
"""

import random
from fractions import Fraction
from itertools import product
from math import gcd

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import split_steps

TASK = get_task("compare")

# kind: (A's numerator, A's denominator, B's numerator, B's denominator), lower rate better?, words
REFERENCE = {
    "unit_price": (("price_a", "quantity_a", "price_b", "quantity_b"), True, "dollars for", "units", "is cheaper"),
    "speed": (("distance_a", "time_a", "distance_b", "time_b"), False, "miles in", "hours", "is faster"),
    "wage": (("pay_a", "hours_a", "pay_b", "hours_b"), False, "dollars for", "hours", "pays more"),
}
RATE_UNITS = {"unit_price": "dollars per unit", "speed": "miles per hour", "wage": "dollars per hour"}
TOTAL_WORDS = {"unit_price": ("dollars", "units"), "speed": ("miles", "hours"), "wage": ("dollars", "hours")}


def numbers(problem):
    return tuple(problem[field] for field in REFERENCE[problem["kind"]][0])


def rates(problem):
    a, b, c, d = numbers(problem)
    return Fraction(a, b), Fraction(c, d)


def winner(problem):
    """The better offer, "A", "B" or "neither", from the rates as Fractions."""
    rate_a, rate_b = rates(problem)
    if rate_a == rate_b:
        return "neither"
    a_better = rate_a < rate_b if REFERENCE[problem["kind"]][1] else rate_a > rate_b
    return "A" if a_better else "B"


def reference_answer(problem):
    return "yes" if winner(problem) == "A" else "no"


def dominated(problem):
    """Whether one offer has at least as much on top for at most as much below."""
    a, b, c, d = numbers(problem)
    return (a >= c and b <= d) or (c >= a and d <= b)


def gap(problem):
    rate_a, rate_b = rates(problem)
    return abs(rate_a - rate_b) / max(rate_a, rate_b)


def meets(problem, max_value, max_gap, shortcuts):
    """Whether a problem is one the knobs allow, from their documented meaning."""
    return (
        max(numbers(problem)) <= max_value
        and winner(problem) != "neither"
        and gap(problem) <= Fraction(max_gap, 100)
        and (shortcuts or not dominated(problem))
    )


def make(kind, values):
    return {"kind": kind, **dict(zip(REFERENCE[kind][0], values))}


def random_problem(rng, top=None):
    kind = rng.choice(sorted(REFERENCE))
    top = top or rng.choice([3, 6, 20, 1000, 10**12])
    return make(kind, [rng.randint(1, top) for _ in range(4)])


def reduced(value):
    """An exact rate written as the grammar wants it: an integer or p/q in lowest terms."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# ---- answers -----------------------------------------------------------------------------------


def test_verifier_matches_the_reference_on_random_problems():
    rng = random.Random(1)
    ties = 0
    for _ in range(4000):
        problem = random_problem(rng)
        a, b = numbers(problem)[:2]
        if rng.random() < 0.1 and max(a, b) <= 10**6:  # a scaled copy of A as B: a tie
            k = rng.randint(1, 5)
            problem = make(problem["kind"], (a, b, a * k, b * k))
        expected = reference_answer(problem)
        ties += winner(problem) == "neither"
        wrong = "no" if expected == "yes" else "yes"
        assert TASK.solve(problem) == expected, problem
        for spelled in (expected, expected.upper(), f"  {expected.capitalize()}\n", f"<answer> {expected} </answer>"):
            assert TASK.verify(problem, spelled).correct, (problem, spelled)
        verdict = TASK.verify(problem, wrong)
        assert not verdict.correct and f"the answer is {expected}" in verdict.reason, (problem, verdict)
    assert ties > 300


WRONG_SPELLINGS = [
    "maybe", "Yes.", "y", "n", "", "   ", "yes no", "no yes", "yess", "nope", "true", "1", "0", "A", "B",
    "yës", "ｙｅｓ", "no\u200b", "\x00", "<answer>yes", "yes</answer>", "9" * 5000, "é", "yes, A is cheaper",
]


@pytest.mark.parametrize("answer", WRONG_SPELLINGS)
def test_anything_but_yes_or_no_is_wrong_with_a_reason(answer):
    for problem in (make("unit_price", (12, 6, 15, 4)), make("unit_price", (12, 4, 15, 6))):
        verdict = TASK.verify(problem, answer)
        assert verdict.correct is False and "yes or no" in verdict.reason, verdict


def test_ties_are_answered_no_and_concluded_neither():
    for kind in REFERENCE:
        for values in [(3, 4, 3, 4), (3, 4, 6, 8), (10, 5, 2, 1), (7, 7, 1, 1)]:
            problem = make(kind, values)
            assert TASK.solve(problem) == "no"
            assert TASK.verify(problem, "no").correct and not TASK.verify(problem, "yes").correct
            for style, order in [("cot", "dfs")] + [("search", order) for order in TASK.search_orders]:
                trace = TASK.trace(problem, style, order)
                assert f"so neither {REFERENCE[kind][4]}" in trace
                assert all(c.valid for c in TASK.check_steps(problem, split_steps(trace)))


def test_verifier_never_raises_on_a_malformed_problem():
    for problem in [None, {}, {"kind": "speed"}, make("speed", (1, 0, 1, 1)), [1, 2], {"kind": ["x"]}]:
        verdict = TASK.verify(problem, "yes")
        assert verdict.correct is False and "malformed" in verdict.reason


# ---- problems ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "problem, field",
    [
        (make("unit_price", (12, 0, 15, 6)), "quantity_a"),
        (make("speed", (12, 4, 15, 0)), "time_b"),
        (make("wage", (0, 4, 15, 6)), "pay_a"),
        (make("unit_price", (12, 4, -15, 6)), "price_b"),
        (make("unit_price", (12, 4, 15.0, 6)), "price_b"),
        (make("unit_price", (12, True, 15, 6)), "quantity_a"),
        (make("unit_price", ("12", 4, 15, 6)), "price_a"),
        (make("unit_price", (12, 4, 15, 10**12 + 1)), "quantity_b"),
        (make("unit_price", (12, 4, 15, 10**5000)), "quantity_b"),
        ({"kind": "unit_price", "price_a": 12, "quantity_a": 4, "price_b": 15}, "quantity_b"),
        ({**make("unit_price", (12, 4, 15, 6)), "time_a": 3}, "time_a"),
        ({**make("speed", (12, 4, 15, 6)), "kind": "unit_price"}, "distance_a"),
        ({**make("speed", (12, 4, 15, 6)), "kind": "mixed"}, "kind"),
        ({"price_a": 12, "quantity_a": 4, "price_b": 15, "quantity_b": 6}, "kind"),
        ([12, 4, 15, 6], "kind"),
    ],
)
def test_malformed_problems_name_the_field(problem, field):
    with pytest.raises(ArborError, match=field):
        TASK.validate_problem(problem)


def test_validation_normalizes_and_keeps_good_problems():
    problem = {"quantity_b": 6, "price_b": 15, "kind": "unit_price", "quantity_a": 4, "price_a": 12}
    assert TASK.validate_problem(problem) == make("unit_price", (12, 4, 15, 6))
    assert list(TASK.validate_problem(problem)) == ["kind", "price_a", "quantity_a", "price_b", "quantity_b"]


@pytest.mark.parametrize("kind", sorted(REFERENCE))
def test_prompt_is_one_regular_line(kind):
    _, _, offer, unit, _ = REFERENCE[kind]
    question = {"unit_price": "is A the better deal?", "speed": "is A faster?", "wage": "does A pay more per hour?"}
    for problem in TASK.problems(50, seed=3, difficulty={"kind": kind}):
        a, b, c, d = numbers(problem)
        expected = f"A: {a} {offer} {b} {unit}, B: {c} {offer} {d} {unit}. {question[kind]}"
        assert TASK.prompt(problem) == expected


DIFFICULTIES = [
    {"kind": kind, "max_value": top, "max_gap": max_gap, "shortcuts": shortcuts}
    for kind in ("unit_price", "speed", "wage", "mixed")
    for top, max_gap, shortcuts in [
        (3, 100, False), (5, 30, True), (20, 100, False), (20, 5, False), (20, 100, True),
        (12, 1, False), (1000, 1, False), (10_000, 100, True), (10_000, 2, True),
    ]
]


@pytest.mark.parametrize("difficulty", DIFFICULTIES, ids=lambda d: "-".join(map(str, d.values())))
def test_generated_problems_keep_the_knobs(difficulty):
    problems = list(TASK.problems(150, seed=7, difficulty=difficulty))
    for problem in problems:
        assert TASK.validate_problem(problem) == problem
        assert difficulty["kind"] in ("mixed", problem["kind"])
        assert meets(problem, difficulty["max_value"], difficulty["max_gap"], difficulty["shortcuts"]), problem
        assert TASK.solve(problem) == reference_answer(problem)
    yes = sum(reference_answer(p) == "yes" for p in problems)
    assert 40 < yes < 110  # the generator balances the answers
    if difficulty["kind"] == "mixed":
        assert {p["kind"] for p in problems} == set(REFERENCE)
    if difficulty["shortcuts"] and difficulty["max_gap"] == 100:
        assert any(dominated(p) for p in problems)  # shortcuts are allowed, and drawn


def test_generation_is_deterministic():
    rng_a, rng_b = random.Random(5), random.Random(5)
    difficulty = TASK.difficulty({"kind": "mixed"})
    first = [TASK.generate(rng_a, difficulty) for _ in range(50)]
    assert first == [TASK.generate(rng_b, difficulty) for _ in range(50)]


def test_unsolvable_problems_cannot_be_asked_for():
    with pytest.raises(ArborError, match="unsolvable"):
        TASK.generate(random.Random(0), TASK.difficulty(), solvable=False)


# ---- knobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, knob",
    [
        ({"kind": "cheap"}, "kind"),
        ({"kind": "Unit_price"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"max_value": 1}, "max_value"),
        ({"max_value": 10_001}, "max_value"),
        ({"max_value": "twenty"}, "max_value"),
        ({"max_value": 2.5}, "max_value"),
        ({"max_gap": 0}, "max_gap"),
        ({"max_gap": 101}, "max_gap"),
        ({"shortcuts": "sometimes"}, "shortcuts"),
        ({"max_value": 2}, "shortcuts"),  # with numbers 1 and 2, the totals decide every non-tie
        ({"max_value": 5, "max_gap": 1}, "max_gap"),
        ({"max_value": 10, "max_gap": 1, "shortcuts": True}, "max_gap"),
    ],
)
def test_bad_knobs_and_impossible_combinations_are_one_sentence(overrides, knob):
    with pytest.raises(ArborError, match=knob) as error:
        TASK.difficulty(overrides)
    assert str(error.value).count(". ") == 0 and str(error.value).endswith(".")


def _smallest_gaps(top):
    """The smallest gap between two non-tied offers with numbers up to `top`: any, and undominated."""
    any_gap = free_gap = None
    span = range(1, top + 1)
    for values in product(span, repeat=4):
        problem = make("unit_price", values)
        if winner(problem) == "neither":
            continue
        g = gap(problem)
        any_gap = g if any_gap is None else min(any_gap, g)
        if not dominated(problem):
            free_gap = g if free_gap is None else min(free_gap, g)
    return any_gap, free_gap


def test_knob_combinations_are_accepted_exactly_when_some_problem_meets_them():
    for top in range(2, 13):
        any_gap, free_gap = _smallest_gaps(top)
        for max_gap, shortcuts in product((1, 2, 3, 4, 5, 7, 10, 15, 25, 50, 100), (True, False)):
            smallest = any_gap if shortcuts else free_gap
            feasible = smallest is not None and smallest <= Fraction(max_gap, 100)
            overrides = {"max_value": top, "max_gap": max_gap, "shortcuts": shortcuts}
            if feasible:
                difficulty = TASK.difficulty(overrides)
                problem = TASK.generate(random.Random(top), difficulty)
                assert meets(problem, top, max_gap, shortcuts)
            else:
                with pytest.raises(ArborError):
                    TASK.difficulty(overrides)


# ---- sweeps and minimal pairs ------------------------------------------------------------------


def test_input_fields_are_the_documented_names():
    for kind, (fields, *_) in REFERENCE.items():
        assert TASK.input_fields(kind) == fields
    for bad in ("mixed", "price", None):
        with pytest.raises(ArborError, match="unit_price"):
            TASK.input_fields(bad)


def test_sweeps_change_one_field_and_follow_the_reference():
    rng = random.Random(9)
    crossings = 0
    for _ in range(300):
        problem = random_problem(rng, top=30)
        field = rng.choice(REFERENCE[problem["kind"]][0])
        values = list(range(1, 41))
        swept = TASK.sweep(problem, field, values)
        assert len(swept) == len(values)
        answers = []
        for value, copy in zip(values, swept):
            assert copy == {**problem, field: value}
            assert TASK.solve(copy) == reference_answer(copy)
            answers.append(TASK.solve(copy))
        crossings += answers[0] != answers[-1]
    assert crossings > 100


def test_bad_sweeps_name_the_fields_or_value():
    problem = make("speed", (12, 4, 15, 6))
    with pytest.raises(ArborError, match="distance_a, time_a, distance_b, time_b"):
        TASK.sweep(problem, "price_a", [1, 2])
    with pytest.raises(ArborError, match="time_b"):
        TASK.sweep(problem, "time_b", [3, 0])
    with pytest.raises(ArborError, match="kind"):
        TASK.sweep({**problem, "kind": "volume"}, "time_b", [3])


PAIR_DIFFICULTIES = [
    {},
    {"kind": "mixed"},
    {"kind": "speed", "max_value": 3},
    {"kind": "wage", "max_value": 50, "max_gap": 5},
    {"kind": "mixed", "max_value": 1000, "max_gap": 1},
    {"kind": "unit_price", "max_value": 6, "shortcuts": True},
    {"kind": "mixed", "max_value": 200, "shortcuts": True, "max_gap": 20},
]


@pytest.mark.parametrize("overrides", PAIR_DIFFICULTIES, ids=str)
def test_minimal_pairs_differ_in_one_number_and_flip_the_answer(overrides):
    difficulty = TASK.difficulty(overrides)
    knobs = (difficulty["max_value"], difficulty["max_gap"], difficulty["shortcuts"])
    rng = random.Random(10)
    fields_changed = set()
    for _ in range(250):
        first, second = TASK.minimal_pair(rng, overrides)
        assert TASK.validate_problem(first) == first and TASK.validate_problem(second) == second
        assert first.keys() == second.keys() and first["kind"] == second["kind"]
        (field,) = [key for key in first if first[key] != second[key]]
        fields_changed.add(field)
        assert {reference_answer(first), reference_answer(second)} == {"yes", "no"}
        assert meets(first, *knobs) and meets(second, *knobs), (first, second)
        low, high = sorted((first[field], second[field]))
        for between in range(low + 1, high):  # nothing nearer the original flips the answer
            nearer = {**first, field: between}
            assert reference_answer(nearer) == reference_answer(first) or not meets(nearer, *knobs)
    assert len(fields_changed) >= 3


def test_minimal_pairs_on_a_chosen_field_and_their_errors():
    rng = random.Random(11)
    for field in REFERENCE["unit_price"][0]:
        for _ in range(50):
            first, second = TASK.minimal_pair(rng, {"max_value": 100}, field=field)
            assert [key for key in first if first[key] != second[key]] == [field]
    for _ in range(50):  # with mixed kinds, the field picks the kind
        first, second = TASK.minimal_pair(rng, {"kind": "mixed"}, field="hours_b")
        assert first["kind"] == "wage" and [key for key in first if first[key] != second[key]] == ["hours_b"]
    with pytest.raises(ArborError, match="price_a, quantity_a, price_b, quantity_b"):
        TASK.minimal_pair(rng, {}, field="time_a")
    with pytest.raises(ArborError, match="pay_a"):
        TASK.minimal_pair(rng, {"kind": "mixed"}, field="volume_a")
    with pytest.raises(ArborError, match="max_value"):  # numbers 1 and 2 cannot cross without a tie
        TASK.minimal_pair(rng, {"max_value": 2, "shortcuts": True})


def test_minimal_pairs_are_deterministic():
    first = [TASK.minimal_pair(random.Random(4), {"kind": "mixed"}) for _ in range(3)]
    assert first[0] == first[1] == first[2]


# ---- steps -------------------------------------------------------------------------------------


def cot_lines(problem):
    """The chain the grammar documents, written from the reference."""
    kind = problem["kind"]
    a, b, c, d = numbers(problem)
    rate_a, rate_b = rates(problem)
    sign = "<" if rate_a < rate_b else ">" if rate_a > rate_b else "="
    unit = RATE_UNITS[kind]
    return [
        f"A: {a}/{b} = {reduced(rate_a)} {unit}",
        f"B: {c}/{d} = {reduced(rate_b)} {unit}",
        f"{reduced(rate_a)} {sign} {reduced(rate_b)}, so {winner(problem)} {REFERENCE[kind][4]}",
    ]


def test_cot_is_the_documented_chain_and_all_valid():
    rng = random.Random(12)
    for _ in range(1500):
        problem = random_problem(rng)
        trace = TASK.trace(problem, "cot")
        assert split_steps(trace) == cot_lines(problem)
        assert all(c.valid and c.solvable for c in TASK.check_steps(problem, cot_lines(problem)))


def _corruptions(line, rng):
    """Copies of `line` with one number token changed to a different number."""
    tokens = line.replace("/", " / ").replace(",", " ,").split(" ")
    for index, token in enumerate(tokens):
        if token.isdigit():
            value = int(token)
            for other in {value + 1, max(value - 1, 0), value * 2 + 1, rng.randint(1, 50)} - {value}:
                changed = tokens[:index] + [str(other)] + tokens[index + 1 :]
                yield " ".join(changed).replace(" / ", "/").replace(" ,", ",")


def test_a_corrupted_number_makes_exactly_that_step_invalid():
    """Later steps are judged as if the corrupted step were absent (an invalid step changes nothing)."""
    rng = random.Random(13)
    corrupted_lines = 0
    for _ in range(400):
        problem = random_problem(rng, top=rng.choice([6, 30, 10**6]))
        lines = cot_lines(problem)
        for position, line in enumerate(lines):
            for bad in _corruptions(line, rng):
                steps = lines[:position] + [bad] + lines[position + 1 :]
                checks = TASK.check_steps(problem, steps)
                assert all(c.valid for c in checks[:position]) and not checks[position].valid, (problem, bad)
                without = TASK.check_steps(problem, lines[:position] + lines[position + 1 :])
                after = [(c.valid, c.solvable) for c in checks[position + 1 :]]
                assert after == [(c.valid, c.solvable) for c in without[position:]]
                if position == len(lines) - 1:
                    assert [c.valid for c in checks] == [True, True, False]
                corrupted_lines += 1
    assert corrupted_lines > 5000


def value_of(written):
    top, _, bottom = written.partition("/")
    return Fraction(int(top), int(bottom or 1))


def in_lowest_terms(written):
    if "/" not in written:
        return True
    top, bottom = map(int, written.split("/"))
    return bottom > 1 and gcd(top, bottom) == 1


def test_rate_claims_match_the_reference():
    rng = random.Random(14)
    valid_seen = 0
    for _ in range(2000):
        problem = random_problem(rng, top=12)
        kind = problem["kind"]
        offer = rng.choice("AB")
        true_top, true_bottom = numbers(problem)[:2] if offer == "A" else numbers(problem)[2:]
        top = true_top if rng.random() < 0.7 else rng.randint(1, 12)
        bottom = true_bottom if rng.random() < 0.7 else rng.randint(1, 12)
        p, q = rng.randint(0, 13), rng.randint(1, 13)
        written = rng.choice([reduced(Fraction(top, bottom)), f"{p}/{q}", str(p), reduced(Fraction(p, q))])
        unit = RATE_UNITS[kind] if rng.random() < 0.8 else rng.choice(sorted(RATE_UNITS.values()))
        step = f"{offer}: {top}/{bottom} = {written} {unit}"
        expected = (
            (top, bottom) == (true_top, true_bottom)
            and in_lowest_terms(written)
            and value_of(written) == Fraction(top, bottom)
            and unit == RATE_UNITS[kind]
        )
        (check,) = TASK.check_steps(problem, [step])
        assert check.valid == expected and check.solvable == expected, (problem, step, check)
        valid_seen += expected
    assert valid_seen > 150


def test_comparison_and_check_claims_match_the_reference():
    rng = random.Random(15)
    valid_seen = 0
    for _ in range(2000):
        problem = random_problem(rng, top=rng.choice([3, 12]))
        kind = problem["kind"]
        a, b, c, d = numbers(problem)
        rate_a, rate_b = rates(problem)
        sign = rng.choice("<>=")
        who = rng.choice(["A", "B", "neither"])
        verdict = REFERENCE[kind][4] if rng.random() < 0.9 else rng.choice(["is cheaper", "is faster", "pays more"])
        compare = f"{reduced(rate_a)} {sign} {reduced(rate_b)}, so {who} {verdict}"
        true_sign = {True: "<", False: ">"}[rate_a < rate_b] if rate_a != rate_b else "="
        compare_ok = sign == true_sign and who == winner(problem) and verdict == REFERENCE[kind][4]
        operands = (a, d, c, b) if rng.random() < 0.7 else rng.choice([(a, b, c, d), (c, b, a, d), (a, d + 1, c, b)])
        x, y = operands[0] * operands[1], operands[2] * operands[3]
        if rng.random() < 0.2:
            x += rng.choice([-1, 1])
        check_sign = rng.choice("<>=")
        check = f"check: {operands[0]}*{operands[1]} = {x} {check_sign} {operands[2]}*{operands[3]} = {y}"
        check_true = (
            operands == (a, d, c, b) and x == a * d and check_sign == ("<" if x < y else ">" if x > y else "=")
        )
        checks = TASK.check_steps(problem, cot_lines(problem)[:2] + [compare, check])
        assert checks[2].valid == compare_ok, (problem, compare, checks[2])
        assert checks[3].valid == (compare_ok and check_true), (problem, check, checks[3])
        valid_seen += compare_ok and check_true
    assert valid_seen > 25


def test_totals_route_claims_and_solvability_match_the_reference():
    rng = random.Random(16)
    for _ in range(2000):
        problem = random_problem(rng, top=rng.choice([3, 8]))
        kind = problem["kind"]
        a, b, c, d = numbers(problem)
        lines = []
        for side in rng.sample([0, 1], 2):
            x, y = (a, c) if side == 0 else (b, d)
            sign = "<" if x < y else ">" if x > y else "="
            lines.append(f"try totals: {x} {sign} {y} {TOTAL_WORDS[kind][side]}")
        decides = dominated(problem)
        decide = f"totals decide, so {winner(problem)} {REFERENCE[kind][4]}"
        checks = TASK.check_steps(problem, lines + [decide, "totals do not decide"])
        assert [(ch.valid, ch.solvable) for ch in checks[:2]] == [(True, decides)] * 2
        assert checks[2].valid == decides and checks[3].valid == (not decides)
        # one side compared is enough to give up, not enough to conclude
        early = TASK.check_steps(problem, lines[:1] + [decide, "totals do not decide", "back to start"])
        assert not early[1].valid
        assert early[2].valid == (not decides) and not early[2].solvable
        assert early[3].valid and early[3].solvable
        # a false comparison of totals is invalid
        x, y = a, c
        false_sign = rng.choice(sorted({"<", ">", "="} - {"<" if x < y else ">" if x > y else "="}))
        (bad,) = TASK.check_steps(problem, [f"try totals: {x} {false_sign} {y} {TOTAL_WORDS[kind][0]}"])
        assert not bad.valid


def test_route_rules():
    problem = make("unit_price", (12, 4, 15, 6))  # 3 against 5/2: B is cheaper; the totals do not decide
    rate_a, rate_b, compare = cot_lines(problem)
    totals = "try totals: 12 < 15 dollars"
    check = "check: 12*6 = 72 > 15*4 = 60"
    cases = [
        ([rate_a, totals], [(True, True), (False, False)]),  # no totals on the exact route
        ([totals, rate_a], [(True, False), (False, False)]),  # no rates on the totals route
        ([rate_a, compare], [(True, True), (False, False)]),  # a comparison needs both rates
        ([check], [(False, False)]),  # a check needs a conclusion
        ([rate_a, rate_b, compare, check, check], [(True, True)] * 4 + [(False, False)]),  # once
        ([rate_a, rate_a], [(True, True), (False, False)]),  # each rate once
        (["back to start"], [(False, False)]),  # already at the start
        ([totals, "totals do not decide", rate_a, totals], [(True, False)] * 2 + [(False, False)] * 2),  # dead end
        ([rate_a, rate_b, "back to start", compare], [(True, True)] * 3 + [(False, False)]),  # facts are forgotten
        (
            [totals, "totals do not decide", "back to start", rate_b, rate_a, compare, check],
            [(True, False)] * 2 + [(True, True)] * 5,
        ),
        (["try totals: 4 < 6 units", "try totals: 4 < 6 units"], [(True, False), (False, False)]),
        (["try totals: 4 < 6 hours"], [(False, False)]),  # the wrong word for this kind
        (["A: 12/4 = 3 miles per hour"], [(False, False)]),
        (["A: 12/4 = 6/2 dollars per unit"], [(False, False)]),  # not reduced
        (["A: 12/4 = 3/1 dollars per unit"], [(False, False)]),
        (["B: 15/6 = 5/0 dollars per unit"], [(False, False)]),
        (["A: 012/4 = 3 dollars per unit"], [(False, False)]),
        ([rate_a, rate_b, "3 > 5/2, so B is faster"], [(True, True)] * 2 + [(False, False)]),
    ]
    for steps, expected in cases:
        checks = TASK.check_steps(problem, steps)
        assert [(c.valid, c.solvable) for c in checks] == expected, (steps, checks)
        assert all(c.reason for c in checks)


def test_dominated_problems_conclude_on_the_totals_route():
    problem = make("speed", (15, 4, 12, 6))  # more miles in fewer hours: A is faster
    steps = ["try totals: 4 < 6 hours", "try totals: 15 > 12 miles", "totals decide, so A is faster"]
    steps.append("check: 15*6 = 90 > 12*4 = 48")
    assert [(c.valid, c.solvable) for c in TASK.check_steps(problem, steps)] == [(True, True)] * 4
    assert TASK.check_steps(problem, steps[:2] + ["totals do not decide"])[2].valid is False


@pytest.mark.parametrize("order", ["dfs", "bfs", "best-first"])
def test_search_traces_explore_backtrack_and_check(order):
    rng = random.Random(17)
    for shortcuts in (False, True):
        for problem in TASK.problems(300, seed=18, difficulty={"kind": "mixed", "shortcuts": shortcuts}):
            trace = TASK.trace(problem, "search", order, rng)
            steps = split_steps(trace)
            checks = TASK.check_steps(problem, steps)
            assert all(c.valid for c in checks), (trace, checks)
            assert TASK.verify(problem, trace).correct
            assert steps[-1].startswith("check: ") and checks[-1].solvable
            if order == "best-first":
                assert all(c.solvable for c in checks) and "back to start" not in steps
            elif dominated(problem):
                assert "back to start" not in steps and any(s.startswith("totals decide") for s in steps)
            else:
                back = steps.index("back to start")
                assert back == {"dfs": 2, "bfs": 3}[order]
                assert [c.solvable for c in checks] == [False] * back + [True] * (len(steps) - back)
                assert steps[back - 1] == "totals do not decide"


def test_garbage_steps_are_invalid_without_raising():
    problem = make("wage", (12, 4, 15, 6))
    garbage = [
        "", " ", "A: 12/4 = 3 dollars per hour ", "a: 12/4 = 3 dollars per hour", "A: 12/4 = 3.0 dollars per hour",
        "A: 12/4 = -3 dollars per hour", f"A: {'9' * 5000}/4 = 3 dollars per hour", "check: 1*1 = 1 = 1*1 = 1",
        "totals decide", "back to  start", "Ａ: 12/4 = 3 dollars per hour", "\x00", "é" * 100, None, 42,
    ]
    checks = TASK.check_steps(problem, garbage)
    assert [c.valid for c in checks] == [False] * len(garbage)
    assert all(c.reason for c in checks)
    assert [c.valid for c in TASK.check_steps({"kind": "wage"}, ["x", "y"])] == [False, False]
