"""Arithmetic's verifier, traces and step checker against an independent reference.

The reference writes each column line in closed form from Python's int arithmetic (the digit of x in
column k is x // 10**(k-1) % 10; the carry into column k is the sum of the lower parts divided by
10**(k-1); the digits so far are the result mod 10**k), sharing no code with arborlab's column loop.
"""

import random
import re

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import split_steps

TASK = get_task("arithmetic")


# ---- the reference -----------------------------------------------------------------------------


class Ref:
    """One reference column: label, terms text, total, carry in and the digits written before it."""

    def __init__(self, label, terms, total, carry_in, before):
        self.label, self.terms, self.total, self.carry_in, self.before = label, terms, total, carry_in, before

    def line(self):
        digit, carry = self.total % 10, self.total // 10
        return f"{self.label}: {self.terms}={self.total}, write {digit} carry {carry}, so far {digit}{self.before}"

    def back(self):
        return f"back to {self.label}, carry {self.carry_in}" + (f", so far {self.before}" if self.before else "")


def low_digits(value, k):
    """The lowest k digits of value, zero-padded (empty for k = 0)."""
    return str(value % 10**k).zfill(k) if k else ""


def reference_columns(a, b, op):
    if op == "+":
        return [
            Ref(f"col {k}", f"{a // 10**(k-1) % 10}+{b // 10**(k-1) % 10}+{carry}",
                a // 10**(k-1) % 10 + b // 10**(k-1) % 10 + carry, carry, low_digits(a + b, k - 1))
            for k in range(1, len(str(a + b)) + 1)
            for carry in [(a % 10**(k-1) + b % 10**(k-1)) // 10**(k-1)]
        ]
    columns, widths, shifted = [], [], []
    for j in range(1, len(str(b)) + 1):
        d = b // 10**(j-1) % 10
        width = max(len(str(a)), len(str(a * d)))
        for i in range(1, width + 1):
            x, carry = a // 10**(i-1) % 10, a % 10**(i-1) * d // 10**(i-1)
            columns.append(Ref(f"row {j} col {i}", f"{x}*{d}+{carry}", x * d + carry, carry, low_digits(a * d, i - 1)))
        widths.append(width + j - 1)
        shifted.append(a * d * 10**(j-1))
    if len(shifted) > 1:
        for k in range(1, max(widths + [len(str(a * b))]) + 1):
            carry = sum(p % 10**(k-1) for p in shifted) // 10**(k-1)
            digits = [p // 10**(k-1) % 10 for p in shifted]
            terms = "+".join(map(str, digits + [carry]))
            columns.append(Ref(f"sum col {k}", terms, sum(digits) + carry, carry, low_digits(a * b, k - 1)))
    return columns


def reference_verify_lines(a, b, op):
    if op == "+":
        return {f"verify {a + b}-{b}={a}", f"verify {a + b}-{a}={b}"}
    if a == b == 0:
        return {"verify 0*0=0"}
    return {f"verify {a * b}/{x}={y}" for x, y in ((a, b), (b, a)) if x}


def reference_correct(text, value):
    """Plain int arithmetic: ASCII digits only, no leading zero, equal to value."""
    text = text.strip()
    if not text or len(text) > 40 or any(c not in "0123456789" for c in text):
        return False
    return (text == "0" or text[0] != "0") and int(text) == value


def random_problem(rng, max_digits=12):
    da, db = rng.randint(1, max_digits), rng.randint(1, max_digits)
    a = rng.randint(0, 10**da - 1) if rng.random() < 0.7 else rng.choice([0, 1, 10**da - 1, 10 ** (da - 1)])
    b = rng.randint(0, 10**db - 1) if rng.random() < 0.7 else rng.choice([0, 1, 10**db - 1, 10 ** (db - 1)])
    return {"a": a, "b": b, "op": rng.choice("+*")}


def value_of(problem):
    return problem["a"] + problem["b"] if problem["op"] == "+" else problem["a"] * problem["b"]


# ---- traces ------------------------------------------------------------------------------------


def test_cot_is_the_pencil_and_paper_reference():
    rng = random.Random(1)
    lines = 0
    for _ in range(1500):
        problem = random_problem(rng, max_digits=rng.choice([3, 12]))
        reference = [column.line() for column in reference_columns(**problem)]
        trace = TASK.trace(problem, "cot")
        assert split_steps(trace) == reference, problem
        assert trace.endswith(f"<answer>{value_of(problem)}</answer>")
        checks = TASK.check_steps(problem, reference)
        assert all(c.valid and c.solvable for c in checks), (problem, checks)
        lines += len(reference)
    assert lines > 20_000


def _corrupt(rng, line):
    """`line` with one digit changed to another digit."""
    places = [i for i, c in enumerate(line) if c.isdigit()]
    at = rng.choice(places)
    return line[:at] + rng.choice([d for d in "0123456789" if d != line[at]]) + line[at + 1 :]


def test_one_corrupted_digit_is_flagged_and_the_state_stays_before_it():
    rng = random.Random(2)
    for _ in range(1500):
        problem = random_problem(rng, max_digits=6)
        columns = reference_columns(**problem)
        lines = [column.line() for column in columns]
        k = rng.randrange(len(lines))
        bad = _corrupt(rng, lines[k])
        # inserted before the right line: only it is invalid, the rest go on from the state before it
        checks = TASK.check_steps(problem, lines[:k] + [bad] + lines[k:])
        assert [c.index for c in checks if not c.valid] == [k], (problem, bad)
        assert all(c.solvable == c.valid for c in checks)
        # instead of the right line: the state stays before column k, so the next line is out of turn
        checks = TASK.check_steps(problem, lines[:k] + [bad] + lines[k + 1 :])
        assert [c.valid for c in checks] == [True] * k + [False] * (len(lines) - k)
        if k + 1 < len(lines):
            assert f"the next column is {columns[k].label}," in checks[k + 1].reason


def _random_walk(rng, problem):
    """Steps mixing right lines, corrupted lines, checks, back steps and verifies, with the reference validity."""
    columns = reference_columns(**problem)
    verifies = sorted(reference_verify_lines(**problem))
    position = reached = 0
    steps, expected = [], []
    for _ in range(rng.randint(1, 3 * len(columns) + 3)):
        kind = rng.random()
        finished = position == len(columns)
        if kind < 0.45 and not finished:
            steps.append(columns[position].line())
            position += 1
            reached = max(reached, position)
            expected.append(True)
        elif kind < 0.6:
            column = columns[rng.randrange(len(columns))]
            steps.append(_corrupt(rng, column.line()) if rng.random() < 0.7 else column.line())
            expected.append(not finished and steps[-1] == columns[position].line())
            if expected[-1]:
                position += 1
                reached = max(reached, position)
        elif kind < 0.7:
            column = columns[rng.randrange(len(columns))]
            wrong = rng.choice([column.total, column.total + rng.randint(1, 20), max(0, column.total - 1)])
            steps.append(f"check {column.label}: {column.terms}={column.total}, not {wrong}")
            expected.append(not finished and column is columns[position] and wrong != column.total)
        elif kind < 0.85:
            target = rng.randrange(len(columns))
            column = columns[target]
            carry = column.carry_in if rng.random() < 0.8 else column.carry_in + 1
            so_far = f", so far {column.before}" if column.before else ""
            steps.append(f"back to {column.label}, carry {carry}{so_far}")
            expected.append(target <= reached and carry == column.carry_in)
            if expected[-1]:
                position = target
        else:
            line = rng.choice(verifies) if rng.random() < 0.7 else _corrupt(rng, rng.choice(verifies))
            steps.append(line)
            expected.append(finished and line in verifies)
    return steps, expected


def test_step_checker_matches_the_reference_on_random_walks():
    rng = random.Random(3)
    checked = invalid = 0
    for _ in range(1500):
        problem = random_problem(rng, max_digits=rng.choice([2, 5]))
        steps, expected = _random_walk(rng, problem)
        checks = TASK.check_steps(problem, steps)
        assert [c.valid for c in checks] == expected, (problem, steps, checks)
        assert [c.solvable for c in checks] == expected
        checked += len(steps)
        invalid += expected.count(False)
    assert checked > 12_000 and invalid > 3000


def _slip_kind(slip, column):
    """How the slipped line differs from the right one: its terms or only its total."""
    terms = slip.split(": ")[1].split("=")[0]
    if terms == column.terms:
        return "off by one"
    said, right = re.split(r"[+*]", terms), re.split(r"[+*]", column.terms)
    if said[:-1] == right[:-1] and said[-1] == "0":
        return "dropped carry"
    assert sum(x != y for x, y in zip(said, right)) == 1
    return "misread digit"


def test_search_traces_catch_one_slip_and_go_back():
    rng = random.Random(4)
    kinds = {}
    for _ in range(800):
        problem = random_problem(rng, max_digits=5)
        columns = reference_columns(**problem)
        lines = [column.line() for column in columns]
        trace = TASK.trace(problem, "search", "dfs", rng)
        assert trace.endswith(f"<answer>{value_of(problem)}</answer>")
        steps = split_steps(trace)
        checks = TASK.check_steps(problem, steps)
        assert steps[-1] in reference_verify_lines(**problem) and checks[-1].valid
        invalid = [c.index for c in checks if not c.valid]
        if not invalid:
            assert steps[:-1] == lines
            kinds["none"] = kinds.get("none", 0) + 1
            continue
        (at,) = invalid
        column = columns[at]
        slip, check, back = steps[at : at + 3]
        assert steps[:at] == lines[:at] and steps[at + 3 : -1] == lines[at:]
        total = int(slip.split("=")[1].split(",")[0])
        assert total != column.total and slip.startswith(f"{column.label}: ")
        assert slip.endswith(f"write {total % 10} carry {total // 10}, so far {total % 10}{column.before}")
        assert check == f"check {column.label}: {column.terms}={column.total}, not {total}"
        assert back == column.back()
        kind = _slip_kind(slip, column)
        kinds[kind] = kinds.get(kind, 0) + 1
    assert set(kinds) == {"none", "off by one", "dropped carry", "misread digit"}
    assert 250 < kinds["none"] < 550, kinds


def test_search_is_depth_first_only():
    problem = {"a": 12, "b": 34, "op": "+"}
    with pytest.raises(ArborError, match="dfs"):
        TASK.trace(problem, "search", "bfs")


# ---- step reasons ------------------------------------------------------------------------------


ADDITION = {"a": 127, "b": 459, "op": "+"}  # 7+9=16, 2+5+1=8, 1+4=5: 586
COL_1 = "col 1: 7+9+0=16, write 6 carry 1, so far 6"


@pytest.mark.parametrize(
    "steps, reason",
    [
        (["col 2: 2+5+1=8, write 8 carry 0, so far 86"], "the next column is col 1, not col 2"),
        (["col 1: 6+9+0=15, write 5 carry 1, so far 5"], "the digit of a is 7, not 6"),
        (["col 1: 7+8+0=15, write 5 carry 1, so far 5"], "the digit of b is 9, not 8"),
        ([COL_1, "col 2: 2+5+0=7, write 7 carry 0, so far 76"], "the carry is 1, not 0"),
        (["col 1: 7+9+0=17, write 7 carry 1, so far 7"], "7+9+0 is 16, not 17"),
        (["col 1: 7+9+0=16, write 7 carry 1, so far 7"], "the digit written for 16 is 6, not 7"),
        (["col 1: 7+9+0=16, write 6 carry 0, so far 6"], "the carry out of 16 is 1, not 0"),
        (["col 1: 7+9+0=16, write 6 carry 1, so far 60"], "the digits so far are 6, not 60"),
        (["col 1: 7*9+0=63, write 3 carry 6, so far 3"], "col 1 is 7+9+0, not 7*9+0"),
        (["col 1: 7+9=16, write 6 carry 1, so far 6"], "col 1 is 7+9+0, not 7+9"),
        (["col 1: 7+9+00=16, write 6 carry 1, so far 6"], "the carry is 0, not 00"),
        (["check col 1: 7+9+0=16, not 16"], "names 16 as wrong, but 16 is right"),
        (["check col 2: 2+5+1=8, not 7"], "the next column is col 1"),
        ([COL_1, "back to col 3, carry 0, so far 86"], "col 3 was not reached"),
        ([COL_1, "back to col 2, carry 0, so far 6"], "the carry into col 2 is 1, not 0"),
        ([COL_1, "back to col 2, carry 1"], "before col 2 are 6, not none"),
        (["back to col 1, carry 0, so far 6"], "before col 1 are none, not 6"),
        (["back to col 9, carry 0"], "has no column col 9"),
        (["verify 586-459=127"], "not finished; the next column is col 1"),
        ([COL_1, COL_1], "next column is col 2"),
        (["row 1 col 1: 7*9+0=63, write 3 carry 6, so far 3"], "the next column is col 1, not row 1 col 1"),
        (["col 1: 7 + 9 + 0 = 16, write 6 carry 1, so far 6"], "the step is none of"),
        (["col 1: 7+9+0=16, write 6 carry 1, so far 6 "], "the step is none of"),
        (["col １: 7+9+0=16, write 6 carry 1, so far 6"], "the step is none of"),
        ([""], "the step is none of"),
    ],
)
def test_invalid_steps_say_why(steps, reason):
    checks = TASK.check_steps(ADDITION, steps)
    assert all(c.valid for c in checks[:-1])
    assert not checks[-1].valid and not checks[-1].solvable
    assert reason in checks[-1].reason, checks[-1].reason


def test_multiplication_steps_name_the_digit_that_is_wrong():
    problem = {"a": 123, "b": 45, "op": "*"}
    cot = split_steps(TASK.trace(problem, "cot"))
    assert cot[3] == "row 2 col 1: 3*4+0=12, write 2 carry 1, so far 2"
    assert cot[8] == "sum col 3: 6+9+0=15, write 5 carry 1, so far 535"
    cases = {
        3: ("row 2 col 1: 3*5+0=15, write 5 carry 1, so far 5", "digit 2 of b is 4, not 5"),
        8: ("sum col 3: 6+8+0=14, write 4 carry 1, so far 435", "the digit of row 2 is 9, not 8"),
        9: ("sum col 4: 0+4+1=5, write 5 carry 0, so far 5536", "the digits so far are 5535, not 5536"),
    }
    for at, (bad, reason) in cases.items():
        check = TASK.check_steps(problem, cot[:at] + [bad])[-1]
        assert not check.valid and reason in check.reason, check.reason


@pytest.mark.parametrize(
    "problem, line, valid",
    [
        (ADDITION, "verify 586-459=127", True),
        (ADDITION, "verify 586-127=459", True),
        (ADDITION, "verify 586-459=128", False),
        (ADDITION, "verify 587-459=128", False),
        (ADDITION, "verify 586/459=127", False),
        ({"a": 123, "b": 45, "op": "*"}, "verify 5535/45=123", True),
        ({"a": 123, "b": 45, "op": "*"}, "verify 5535/123=45", True),
        ({"a": 123, "b": 45, "op": "*"}, "verify 5535-45=123", False),
        ({"a": 0, "b": 12, "op": "*"}, "verify 0/12=0", True),
        ({"a": 0, "b": 12, "op": "*"}, "verify 0/0=12", False),
        ({"a": 0, "b": 0, "op": "*"}, "verify 0*0=0", True),
        ({"a": 0, "b": 0, "op": "+"}, "verify 0*0=0", False),
        ({"a": 0, "b": 0, "op": "+"}, "verify 0-0=0", True),
    ],
)
def test_verify_lines_after_the_last_column(problem, line, valid):
    cot = split_steps(TASK.trace(problem, "cot"))
    checks = TASK.check_steps(problem, cot + [line, line])
    assert [c.valid for c in checks[-2:]] == [valid, valid], checks[-1].reason
    assert (checks[-1].reason == "the inverse operation confirms the result") == valid


def test_steps_after_the_finish_are_rejected():
    cot = split_steps(TASK.trace(ADDITION, "cot"))
    checks = TASK.check_steps(ADDITION, cot + [cot[-1], "check col 3: 1+4+0=5, not 6"])
    assert [c.valid for c in checks] == [True, True, True, False, False]
    assert "finished; its result is 586" in checks[-1].reason


def test_step_checker_never_raises_on_garbage():
    rng = random.Random(5)
    alphabet = "col row sum check back to verify carry write so far 0123456789+*-/=:, ５é\x00"
    for _ in range(3000):
        problem = random_problem(rng, max_digits=4)
        steps = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(3)]
        steps.append("col 1: " + "9" * 5000 + "+1+0=10, write 0 carry 1, so far " + "9" * 5000)
        checks = TASK.check_steps(problem, steps)
        assert len(checks) == 4 and not checks[-1].valid


# ---- answers -----------------------------------------------------------------------------------


def _answers(rng, value):
    """Right answers and many kinds of wrong ones for `value`."""
    text = str(value)
    answers = [text, f" {text} \n", f"<answer>{text}</answer>", str(value + 1), str(max(0, value - 1))]
    answers += [f"0{text}", f"+{text}", f"-{text}", f"{text}.0", f"{text}e0", f"{text}_0", f"{text} 0"]
    answers += [f"{text[:1]} {text[1:]}", f"{text[:1]},{text[1:]}", f"{text[:1]}_{text[1:]}", text + "0", text[:-1]]
    answers += ["".join(chr(0xFF10 + int(d)) for d in text), "".join(chr(0x0660 + int(d)) for d in text)]
    answers += ["", " ", "9" * 5000, "0x" + format(value, "x"), f"{value:,}", text[::-1], f"({text})", "\u00b2"]
    if len(text) > 1:
        i = rng.randrange(len(text) - 1)
        answers.append(text[:i] + text[i + 1] + text[i] + text[i + 2 :])  # two neighbouring digits swapped
        i = rng.randrange(len(text))
        answers.append(text[:i] + str((int(text[i]) + rng.randint(1, 9)) % 10) + text[i + 1 :])  # one digit off
    return answers


def test_verifier_matches_python_ints():
    rng = random.Random(6)
    right = wrong = 0
    for _ in range(2000):
        problem = random_problem(rng)
        value = value_of(problem)
        assert TASK.solve(problem) == str(value)
        for answer in _answers(rng, value):
            expected = reference_correct(answer.replace("<answer>", "").replace("</answer>", ""), value)
            verdict = TASK.verify(problem, answer)
            assert verdict.correct == expected, (problem, answer, verdict)
            assert verdict.reason
            right += expected
            wrong += not expected
    assert right > 5000 and wrong > 50_000


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("586", None),
        ("  586\n", None),
        ("585", "the answer is 586, not 585"),
        ("0586", "leading zero"),
        ("+586", "contains '+'"),
        ("-586", "contains '-'"),
        ("586.0", "contains '.'"),
        ("5 86", "contains ' '"),
        ("5,86", "contains ','"),
        ("５８６", "contains '５'"),
        ("", "empty"),
        ("9" * 400, "not a 400-digit number"),
        ("five hundred", "contains 'f'"),
    ],
)
def test_answers_are_strict_decimal_and_say_why(answer, reason):
    verdict = TASK.verify(ADDITION, answer)
    assert verdict.correct == (reason is None), verdict
    if reason is not None:
        assert reason in verdict.reason, verdict.reason


def test_short_answers_with_a_leading_zero_say_so():
    assert "leading zero" in TASK.verify({"a": 2, "b": 3, "op": "+"}, "05").reason
    assert TASK.verify({"a": 0, "b": 0, "op": "*"}, "0").correct
    assert not TASK.verify({"a": 0, "b": 0, "op": "*"}, "00").correct


# ---- problems and knobs ------------------------------------------------------------------------


def test_generated_problems_respect_the_knobs():
    for digits, b_digits, operation, ops in [(1, 0, "add", "+"), (5, 2, "mul", "*"), (12, 12, "mixed", "+*")]:
        chosen = {"digits": digits, "b_digits": b_digits, "operation": operation}
        problems = list(TASK.problems(400, seed=7, difficulty=chosen))
        assert {p["op"] for p in problems} == set(ops)
        for problem in problems:
            assert len(str(problem["a"])) == digits and len(str(problem["b"])) == (b_digits or digits)
            assert TASK.validate_problem(problem) == problem
    one_digit = list(TASK.problems(300, seed=8, difficulty={"digits": 1}))
    assert {p["a"] for p in one_digit} == set(range(10))


def test_no_unsolvable_problems():
    with pytest.raises(ArborError, match="unsolvable"):
        list(TASK.problems(1, solvable=False))


@pytest.mark.parametrize(
    "knob, value",
    [("digits", 0), ("digits", 13), ("digits", "3.5"), ("digits", True), ("b_digits", -1), ("b_digits", 13),
     ("operation", "sub"), ("operation", "ADD"), ("operation", 1)],
)
def test_bad_knobs_name_the_knob(knob, value):
    with pytest.raises(ArborError, match=f"knob '{knob}' must be"):
        TASK.difficulty({knob: value})


@pytest.mark.parametrize(
    "problem, field",
    [
        ({"a": -1, "b": 2, "op": "+"}, "'a'"),
        ({"a": "12", "b": 2, "op": "+"}, "'a'"),
        ({"a": 1.0, "b": 2, "op": "+"}, "'a'"),
        ({"a": True, "b": 2, "op": "+"}, "'a'"),
        ({"a": 1, "b": 10**12, "op": "*"}, "'b'"),
        ({"a": 1, "op": "*"}, "'b'"),
        ({"a": 1, "b": 2, "op": "-"}, "'op'"),
        ({"a": 1, "b": 2}, "'op'"),
        ([1, "+", 2], "'a', 'b' and 'op'"),
    ],
)
def test_malformed_problems_name_the_field(problem, field):
    with pytest.raises(ArborError, match=field):
        TASK.validate_problem(problem)


def test_prompt_and_canonical_form():
    assert TASK.prompt({"a": 123, "b": 45, "op": "*"}) == "123 * 45 ="
    largest = {"a": 10**12 - 1, "b": 0, "op": "+"}
    assert TASK.validate_problem(dict(largest, extra=1)) == largest
    same = TASK.problem_hash({"a": 123, "b": 45, "op": "+"})
    assert same == TASK.problem_hash({"a": 45, "b": 123, "op": "+"})
    assert same != TASK.problem_hash({"a": 45, "b": 123, "op": "*"})
    assert same != TASK.problem_hash({"a": 12, "b": 345, "op": "+"})
