"""Countdown's verifier, solver and step checker against an independent brute force.

The reference here is the classic "24 game" enumeration: repeatedly pick an ordered pair, combine
it with each operation, recurse. It shares no code with arborlab's split-based solver.
"""

import random
import re
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import extract_answer, split_steps

TASK = get_task("countdown")


@lru_cache(maxsize=None)
def brute_values(values: tuple) -> frozenset:
    """Every value reachable using each of `values` (sorted Fractions) exactly once."""
    if len(values) == 1:
        return frozenset(values)
    out = set()
    for i in range(len(values)):
        for j in range(len(values)):
            if i == j:
                continue
            x, y = values[i], values[j]
            rest = [values[k] for k in range(len(values)) if k not in (i, j)]
            for value in [x + y, x - y, x * y] + ([x / y] if y else []):
                out |= brute_values(tuple(sorted(rest + [value])))
    return frozenset(out)


def brute_solvable(numbers, target, use_all=True) -> bool:
    sizes = [len(numbers)] if use_all else range(1, len(numbers) + 1)
    return any(
        Fraction(target) in brute_values(tuple(sorted(map(Fraction, subset))))
        for size in sizes
        for subset in combinations(numbers, size)
    )


def random_expression(rng, numbers):
    """A random expression tree over all `numbers`, as (exact value, text)."""
    items = [(Fraction(n), str(n)) for n in numbers]
    rng.shuffle(items)
    while len(items) > 1:
        (x, ex), (y, ey) = items.pop(rng.randrange(len(items))), items.pop(rng.randrange(len(items)))
        op = rng.choice("+-*/" if y else "+-*")
        value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else None}[op]
        items.append((value, f"({ex}{op}{ey})"))
    return items[0]


@lru_cache(maxsize=None)
def brute_integer_reachable(state: tuple, target: int, use_all: bool) -> bool:
    if (state == (target,)) if use_all else (target in state):
        return True
    for i in range(len(state)):
        for j in range(len(state)):
            if i == j:
                continue
            a, b = state[i], state[j]
            rest = [state[k] for k in range(len(state)) if k not in (i, j)]
            results = [a + b, a * b] + ([a - b] if a >= b else []) + ([a // b] if b and a % b == 0 else [])
            if any(brute_integer_reachable(tuple(sorted(rest + [r])), target, use_all) for r in results):
                return True
    return False


def random_problem(rng, n=None, top=12, use_all=True):
    n = n or rng.randint(2, 4)
    return {"numbers": [rng.randint(1, top) for _ in range(n)], "target": rng.randint(0, 40), "use_all": use_all}


@pytest.mark.parametrize("use_all", [True, False])
def test_solvability_matches_brute_force(use_all):
    rng = random.Random(11)
    for _ in range(500 if use_all else 300):
        problem = random_problem(rng, use_all=use_all)
        reference = brute_solvable(problem["numbers"], problem["target"], use_all)
        assert TASK.is_solvable(problem) == reference, problem
        if reference:
            assert TASK.verify(problem, TASK.solve(problem)).correct
        else:
            assert TASK.verify(problem, "no solution").correct


def test_random_expressions_verify_exactly_when_they_hit_the_target():
    rng = random.Random(12)
    hits = 0
    for _ in range(3000):
        numbers = [rng.randint(0, 12) for _ in range(rng.randint(1, 5))]
        value, text = random_expression(rng, numbers)
        target = int(value) if value.denominator == 1 and rng.random() < 0.5 else rng.randint(-5, 40)
        verdict = TASK.verify({"numbers": numbers, "target": target, "use_all": True}, text)
        assert verdict.correct == (value == target), (numbers, target, text, verdict)
        hits += verdict.correct
    assert hits > 1000


WRONG_ANSWERS = {
    "number used twice": ("3*3+5+8", "uses 3 2 times"),
    "number not given": ("3*5+8+4", "4, which is not one of the given numbers"),
    "number missing": ("3*5+8", "does not use 7"),
    "integer part equals target": ("(8*7+5)/3", "evaluates to 61/3, not 20"),
    "division by zero": ("7/(5-5)*3+8", "divides by zero"),
    "malformed": ("3*(5+8", "not a well-formed"),
    "unary minus": ("-3+5*7-8", "unary"),
    "float literal": ("3.0*5+7+8", "'.'"),
    "letters": ("three*5+7+8", "contains"),
    "power": ("3**5+7-8", "other than"),
    "floor division": ("3//5+7*8", "other than"),
    "huge number": ("9" * 300, "not one of the given numbers"),
    "empty": ("", "empty"),
    "no solution claimed": ("no solution", "says no solution"),
    "underscore literal": ("3_0+5+7+8", "contains"),
}


@pytest.mark.parametrize("kind", sorted(WRONG_ANSWERS))
def test_wrong_answers_are_rejected_with_the_reason(kind):
    problem = {"numbers": [3, 5, 7, 8], "target": 20, "use_all": True}
    answer, reason = WRONG_ANSWERS[kind]
    verdict = TASK.verify(problem, answer)
    assert verdict.correct is False
    assert reason in verdict.reason, verdict.reason


def test_fractional_intermediates_are_legal_in_answers():
    problem = {"numbers": [1, 3, 4, 6], "target": 24, "use_all": True}  # only 6/(1-3/4) works
    assert TASK.verify(problem, "6/(1-3/4)").correct
    assert TASK.is_solvable(problem)
    with pytest.raises(ArborError, match="fractional"):
        TASK.trace(problem, "search")


def test_division_by_zero_is_a_reason_not_a_crash():
    problem = {"numbers": [2, 2, 5], "target": 5, "use_all": True}
    verdict = TASK.verify(problem, "5/(2-2)")
    assert not verdict.correct and "divides by zero" in verdict.reason


def test_at_most_once_accepts_subsets_but_exactly_once_does_not():
    relaxed = {"numbers": [3, 5, 7, 8], "target": 15, "use_all": False}
    strict = dict(relaxed, use_all=True)
    assert TASK.verify(relaxed, "3*5").correct
    assert not TASK.verify(strict, "3*5").correct


def test_answer_inside_tags_is_graded():
    problem = {"numbers": [3, 5, 7, 8], "target": 23, "use_all": True}
    assert TASK.verify(problem, "<think>\nx\n</think><answer>3+5+7+8</answer>").correct


def _random_walk(rng, problem, n_steps):
    """Steps mixing valid moves, back-steps and corrupted lines, with the reference validity."""
    target = problem["target"]
    state = tuple(sorted(problem["numbers"]))
    reached = {state}
    steps, expected = [], []
    for _ in range(n_steps):
        kind = rng.random()
        if kind < 0.2 and len(reached) > 1:
            back = rng.choice(sorted(reached))
            steps.append(f"back to {' '.join(map(str, back))}, target {target}")
            state = back
            expected.append((True, brute_integer_reachable(state, target, True)))
            continue
        if len(state) < 2:
            break
        i, j = rng.sample(range(len(state)), 2)
        a, b = state[i], state[j]
        op = rng.choice("+-*/")
        truth = {"+": a + b, "-": a - b, "*": a * b, "/": Fraction(a, b) if b else None}[op]
        if truth is None:
            claimed = rng.randint(0, 5)
        else:
            claimed = int(truth if rng.random() < 0.8 else truth + rng.choice([-1, 1]))
        valid = truth is not None and truth >= 0 and claimed == truth
        claimed_text = str(claimed)
        rest = [state[k] for k in range(len(state)) if k not in (i, j)]
        new_state = tuple(sorted(rest + [claimed]))
        steps.append(f"{a}{op}{b}={claimed_text}, left {' '.join(map(str, new_state))}, target {target}")
        if valid:
            state = new_state
            reached.add(state)
            expected.append((True, brute_integer_reachable(state, target, True)))
        else:
            expected.append((False, False))
    return steps, expected


def test_step_checker_matches_brute_force_on_random_walks():
    rng = random.Random(13)
    checked = 0
    for _ in range(1500):
        problem = random_problem(rng, n=rng.randint(2, 4))
        steps, expected = _random_walk(rng, problem, rng.randint(1, 6))
        checks = TASK.check_steps(problem, steps)
        assert [(c.valid, c.solvable) for c in checks] == expected, (problem, steps, checks)
        checked += len(steps)
    assert checked > 3000


@pytest.mark.parametrize(
    "step, reason",
    [
        ("3+5=8, left 7 8 8, target 99", "restates the target"),
        ("3+3=6, left 5 6 7 8, target 20", "not both available"),
        ("5-7=-2, left 3 -2 8, target 20", "neither"),
        ("7-8=0, left 0 3 5, target 20", "not a non-negative whole number"),
        ("8/3=2, left 2 5 7, target 20", "not a non-negative whole number"),
        ("3+5=9, left 7 8 9, target 20", "is 8, not 9"),
        ("3+5=8, left 7 8, target 20", "numbers left are"),
        ("back to 1 2 3, target 20", "not reached earlier"),
    ],
)
def test_invalid_steps_say_why(step, reason):
    problem = {"numbers": [3, 5, 7, 8], "target": 20, "use_all": True}
    (check,) = TASK.check_steps(problem, [step])
    assert not check.valid and reason in check.reason, check.reason


def test_search_traces_end_at_the_target_and_cot_has_n_minus_1_steps():
    for problem in TASK.problems(60, seed=21):
        assert len(split_steps(TASK.trace(problem, "cot"))) == len(problem["numbers"]) - 1
        for order in TASK.search_orders:
            checks = TASK.check_steps(problem, split_steps(TASK.trace(problem, "search", order)))
            assert checks[-1].step.split(", left ")[1].startswith(f"{problem['target']},")


def test_generated_targets_respect_the_knobs():
    chosen = {"n_numbers": 3, "max_number": 20, "min_target": 30, "max_target": 60}
    for problem in TASK.problems(300, seed=5, difficulty=chosen):
        assert len(problem["numbers"]) == 3 and max(problem["numbers"]) <= 20
        assert 30 <= problem["target"] <= 60
        assert brute_integer_reachable(tuple(sorted(problem["numbers"])), problem["target"], True)


def test_unsolvable_generation_is_exact():
    for problem in TASK.problems(30, seed=6, difficulty={"n_numbers": 3, "max_number": 10}, solvable=False):
        assert not brute_solvable(problem["numbers"], problem["target"])


def test_impossible_knob_combination_is_one_sentence():
    with pytest.raises(ArborError, match="'min_target' \\(90\\) must not exceed 'max_target' \\(10\\)"):
        TASK.difficulty({"min_target": 90, "max_target": 10})
    with pytest.raises(ArborError, match="n_numbers"):
        TASK.difficulty({"n_numbers": 7})


def test_canonical_hash_ignores_number_order():
    a = {"numbers": [3, 5, 7, 8], "target": 20, "use_all": True}
    b = {"numbers": [8, 7, 5, 3], "target": 20, "use_all": True}
    assert TASK.problem_hash(a) == TASK.problem_hash(b)
    assert TASK.problem_hash(a) != TASK.problem_hash(dict(a, target=21))


@pytest.mark.parametrize(
    "problem, field",
    [
        ({"numbers": "3 5", "target": 8}, "numbers"),
        ({"numbers": [3, 5.5], "target": 8}, "numbers"),
        ({"numbers": [3, 5], "target": "8"}, "target"),
        ({"numbers": [1] * 7, "target": 8}, "numbers"),
        ({"numbers": [3, 5], "target": 8, "use_all": "yes"}, "use_all"),
        ([3, 5, 8], "numbers"),
    ],
)
def test_malformed_problems_name_the_field(problem, field):
    with pytest.raises(ArborError, match=field):
        TASK.validate_problem(problem)


def test_step_checks_give_each_steps_depth_and_computed_value():
    """Depth = numbers used up so far (read off the step's own list); value = the step's arithmetic, redone here."""
    task = get_task("countdown")
    seen_back = seen_apply = 0
    for problem in task.problems(40, seed=3, difficulty={"n_numbers": 4}):
        steps, _ = task.write_steps(problem, "search", "dfs", random.Random(0))
        for check in task.check_steps(problem, steps):
            assert check.valid
            listed = check.step.split(", target")[0].split("left " if "left " in check.step else "back to ")[1].split()
            assert check.depth == len(problem["numbers"]) - len(listed)
            if check.step.startswith("back to"):
                seen_back += 1
                assert check.value is None
            else:
                seen_apply += 1
                a, op, b = re.match(r"(\d+)([-+*/])(\d+)=", check.step).groups()
                assert check.value == eval(f"{a}{op.replace('/', '//')}{b}")  # noqa: S307 (digits and one operator)
    assert seen_back > 20 and seen_apply > 100


def brute_reachable_within(state: tuple, target: int, bound: int) -> bool:
    """Whether integer steps with results of at most `bound` lead from `state` to exactly the target."""
    if state == (target,):
        return True
    for i, j in combinations(range(len(state)), 2):
        a, b = max(state[i], state[j]), min(state[i], state[j])
        rest = [state[k] for k in range(len(state)) if k not in (i, j)]
        results = [a + b, a * b, a - b] + ([a // b] if b and a % b == 0 else [])
        if any(r <= bound and brute_reachable_within(tuple(rest + [r]), target, bound) for r in results):
            return True
    return False


def test_bounded_dfs_writes_numbers_above_999_only_when_no_smaller_route_reaches_the_target():
    problems = TASK.problems(150, seed=8, difficulty={"n_numbers": 3})
    needs_big = {"numbers": [96, 66, 88], "target": 72, "use_all": True}  # (96*66)/88, through 6336
    assert not brute_reachable_within((96, 66, 88), 72, 999) and brute_reachable_within((96, 66, 88), 72, 10**6)
    for problem in [needs_big, *problems]:
        trace = TASK.trace(problem, "search", "dfs-bounded")
        steps = split_steps(trace)
        checks = TASK.check_steps(problem, steps)
        assert all(check.valid for check in checks)
        assert steps[-1].split(", left ")[1].startswith(f"{problem['target']},")
        assert TASK.verify(problem, trace).correct
        within = brute_reachable_within(tuple(problem["numbers"]), problem["target"], 999)
        largest = max(int(n) for n in re.findall(r"\d+", "\n".join(steps)))
        assert (largest <= 999) == within, problem


@pytest.mark.parametrize("order, pruned_ops, most_lines", [("dfs-pruned", "+*", 0.8), ("dfs-pruned-products", "*", 0.95)])
def test_pruned_dfs_skips_only_last_steps_a_comparison_rules_out_and_still_solves(order, pruned_ops, most_lines):
    """`dfs-pruned` never writes a last step (one number left after it) that is a sum or product of
    a number above the target (`dfs-pruned-products`: a product), writes only valid steps, and
    answers exactly when the integer search can (brute force), in fewer lines than `dfs`; with
    target 0 a product by 0 is not pruned."""
    step_form = re.compile(r"(\d+)([-+*/])(\d+)=\d+, left (\S+), target (\d+)")
    knobs = [{"n_numbers": 3}, {"n_numbers": 4}, {"n_numbers": 3, "max_number": 6, "min_target": 0, "max_target": 4}]
    pruned_lines = dfs_lines = kept_misses = 0
    for difficulty in knobs:
        for problem in [*TASK.problems(80, seed=31, difficulty=difficulty),
                        *TASK.problems(20, seed=32, difficulty=difficulty, solvable=False)]:
            trace = TASK.trace(problem, "search", order)
            steps = split_steps(trace)
            assert all(check.valid for check in TASK.check_steps(problem, steps))
            target = problem["target"]
            for step in steps:
                if match := step_form.fullmatch(step):  # one number left (`\S+` holds no space)
                    a, op, b = int(match.group(1)), match.group(2), int(match.group(3))
                    assert not (op in pruned_ops and max(a, b) > target >= 1), (problem, step)
                    kept_misses += op not in pruned_ops and op in "+*" and max(a, b) > target >= 1
            reachable = brute_integer_reachable(tuple(sorted(problem["numbers"])), target, True)
            assert TASK.verify(problem, trace).correct, problem  # an expression, or "no solution" when there is none
            assert (extract_answer(trace) != TASK.no_solution) == reachable, problem
            pruned_lines += len(steps)
            dfs_lines += len(split_steps(TASK.trace(problem, "search", "dfs")))
    assert pruned_lines < most_lines * dfs_lines
    assert (kept_misses > 0) == ("+" not in pruned_ops)  # dfs-pruned-products still writes sums that miss
    zero = {"numbers": [5, 3, 3], "target": 0, "use_all": True}  # 5*(3-3): the product by 0 is the answer
    assert TASK.verify(zero, TASK.trace(zero, "search", order)).correct


@pytest.mark.parametrize("step, kind", [
    ("4+5=9, left 6 9, target 24", "sum"),
    ("9-4=5, left 6 5, target 24", "difference"),
    ("4*5=20, left 6 20, target 24", "product"),
    ("8/4=3, left 6 3, target 24", "quotient"),  # a wrong quotient is still meant as one
    ("40*25=1000, left 6 1000, target 24", "product >= 1000"),
    ("40*25=999, left 6 999, target 24", "product >= 1000"),  # by the operands, not the written result
    ("37*27=999, left 6 999, target 24", "product"),
    ("back to 4 5 6, target 24", "back to"),
    ("4+5=9 left 6 9", "malformed"),
])
def test_step_kind_names_the_operation_a_line_writes(step, kind):
    assert TASK.step_kind(step) == kind
