"""Sudoku's verifier, solver, step checker and generator against an independent brute force.

The reference enumerates all 288 valid 4x4 grids once (every choice of four row permutations whose
columns and boxes also hold 1-4); the completions of a puzzle are the grids that agree with its
givens. It shares no code with arborlab's backtracking solver.
"""

import random
import re
from functools import lru_cache
from itertools import permutations, product

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import split_steps

TASK = get_task("sudoku")
DIGITS = "1234"


def same_unit(i: int, j: int) -> bool:
    """Whether cells i and j share a row, a column or a 2x2 box."""
    ri, ci, rj, cj = i // 4, i % 4, j // 4, j % 4
    return ri == rj or ci == cj or (ri // 2, ci // 2) == (rj // 2, cj // 2)


def fits(grid: str, row: tuple) -> bool:
    """Whether `row` can go under the rows of `grid` without repeating a digit in a column or box."""
    top = len(grid)
    return all(d != row[i - top] for i in range(top, top + 4) for j, d in enumerate(grid) if same_unit(i, j))


def all_grids() -> tuple:
    """Every valid grid: stack row permutations, keeping only rows that clash with none above."""
    grids = [""]
    for _ in range(4):
        grids = [grid + "".join(row) for grid in grids for row in permutations(DIGITS) if fits(grid, row)]
    return tuple(grids)


GRIDS = all_grids()


@lru_cache(maxsize=None)
def completions(puzzle: str) -> tuple:
    givens = [(i, d) for i, d in enumerate(puzzle) if d != "."]
    return tuple(g for g in GRIDS if all(g[i] == d for i, d in givens))


def rows(grid: str) -> str:
    return " ".join(grid[k : k + 4] for k in range(0, 16, 4))


def clashes(puzzle: str) -> bool:
    pairs = [(i, j) for i in range(16) for j in range(i + 1, 16) if same_unit(i, j)]
    return any(puzzle[i] != "." and puzzle[i] == puzzle[j] for i, j in pairs)


def has_open_blanks(puzzle: str) -> bool:
    """Every blank has some digit not already among the givens it shares a unit with."""
    return all(
        any(all(puzzle[j] != d for j in range(16) if j != i and same_unit(i, j)) for d in DIGITS)
        for i in range(16)
        if puzzle[i] == "."
    )


def random_puzzle(rng: random.Random) -> str:
    """A blanked valid grid, random non-clashing givens (often dead), or random givens (often clashing)."""
    kind = rng.random()
    if kind < 0.5:
        grid, blanks = rng.choice(GRIDS), set(rng.sample(range(16), rng.randint(1, 16)))
        return "".join("." if i in blanks else d for i, d in enumerate(grid))
    cells = ["."] * 16
    for i in rng.sample(range(16), rng.randint(2, 12)):
        options = [d for d in DIGITS if kind < 0.85 or all(cells[j] != d for j in range(16) if same_unit(i, j))]
        cells[i] = rng.choice(options) if options else "."
    return "".join(cells)


def test_reference_has_288_grids():
    assert len(GRIDS) == 288 and len(set(GRIDS)) == 288


# ---- verifier ----------------------------------------------------------------------------------


def _expected_fault(puzzle: str, grid: str) -> str | None:
    """The first given the grid breaks (row-major), or None; unit clashes are checked separately."""
    for i in range(16):
        if puzzle[i] != "." and grid[i] != puzzle[i]:
            return f"cell r{i // 4 + 1}c{i % 4 + 1} was given as {puzzle[i]}, but the answer has {grid[i]}"
    return None


def _assert_clash_reason_is_true(grid: str, reason: str):
    """A reason like 'row 2 has two 3s' must name a unit that really holds that digit that often."""
    line = r"(row|column) ([1-4]) has (two|three|four) ([1-4])s"
    box = r"the (top-left|top-right|bottom-left|bottom-right) box has (two|three|four) ([1-4])s"
    match = re.fullmatch(f"{line}|{box}", reason)
    assert match, reason
    if match.group(1):
        k = int(match.group(2)) - 1
        cells = range(4 * k, 4 * k + 4) if match.group(1) == "row" else range(k, 16, 4)
        count, digit = match.group(3), match.group(4)
    else:
        top, left = (0 if "top" in match.group(5) else 2), (0 if "left" in match.group(5) else 2)
        cells = [4 * (top + r) + left + c for r in range(2) for c in range(2)]
        count, digit = match.group(6), match.group(7)
    assert sum(grid[i] == digit for i in cells) == {"two": 2, "three": 3, "four": 4}[count], (grid, reason)


def test_verifier_matches_brute_force_on_random_puzzles():
    rng = random.Random(31)
    accepted = rejected = unsolvable = 0
    for _ in range(3000):
        puzzle = random_puzzle(rng)
        problem = {"grid": puzzle}
        reference = completions(puzzle)
        solution = TASK.solve(problem)
        assert (solution is None) == (not reference), puzzle
        if solution is not None:
            assert solution.replace(" ", "") in reference
        assert TASK.verify(problem, "no solution").correct == (not reference)
        unsolvable += not reference
        for grid in reference if len(reference) <= 12 else rng.sample(reference, 12):
            for text in (grid, rows(grid), f"<answer>{rows(grid)}</answer>"):
                assert TASK.verify(problem, text).correct, (puzzle, text)
                accepted += 1
        wrong = [rng.choice(GRIDS) for _ in range(4)]
        wrong += ["".join(rng.choice(DIGITS) for _ in range(16)) for _ in range(3)]
        for grid in reference[:3]:
            i = rng.randrange(16)
            wrong.append(grid[:i] + rng.choice(DIGITS.replace(grid[i], "")) + grid[i + 1 :])
        for grid in wrong:
            verdict = TASK.verify(problem, rows(grid) if rng.random() < 0.5 else grid)
            assert verdict.correct == (grid in reference), (puzzle, grid, verdict)
            if not verdict.correct:
                rejected += 1
                fault = _expected_fault(puzzle, grid)
                if fault is not None:
                    assert verdict.reason == fault
                else:
                    _assert_clash_reason_is_true(grid, verdict.reason)
    assert accepted > 10_000 and rejected > 10_000 and unsolvable > 500


SOLVABLE = "12.4.3.........1"  # 12.4 .3.. .... ...1, whose only solution is 1234 4312 2143 3421


def test_fixed_puzzle_has_one_solution():
    assert len(completions(SOLVABLE)) == 1


MALFORMED = {
    "15 digits": ("1" * 15, "has 15 digits, not 16"),
    "17 digits": ("1234 3412 2143 43211", "has 17 digits, not 16"),
    "huge": ("1" * 5000, "has 5000 digits, not 16"),
    "zero": ("1234 3412 2143 4320", "contains '0'"),
    "five": ("5234 3412 2143 4321", "contains '5'"),
    "nine": ("9" * 400, "contains '9'"),
    "letter": ("1234 3412 2143 432a", "contains 'a'"),
    "fullwidth digits": ("１２３４ 3412 2143 4321", "contains"),
    "arabic-indic digit": ("123٤ 3412 2143 4321", "contains"),
    "superscript digit": ("123⁴ 3412 2143 4321", "contains"),
    "slashes": ("1234/3412/2143/4321", "contains '/'"),
    "commas": ("1,2,3,4,3,4,1,2,2,1,4,3,4,3,2,1", "contains ','"),
    "tab": ("1234\t3412 2143 4321", "contains '\\t'"),
    "newline": ("1234\n3412\n2143\n4321", "contains '\\n'"),
    "dot left in": ("1234 3412 2143 432.", "contains '.'"),
    "split rows": ("12 34 3412 2143 4321", "spaces must separate 4 rows"),
    "double space": ("1234  3412 2143 4321", "spaces must separate 4 rows"),
    "two groups": ("12343412 21434321", "spaces must separate 4 rows"),
    "empty": ("", "empty"),
    "empty tags": ("<answer></answer>", "empty"),
    "no solution claimed": ("no solution", "says no solution"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_answers_are_rejected_with_the_reason(kind):
    (solution,) = completions(SOLVABLE)
    answer, reason = MALFORMED[kind]
    verdict = TASK.verify({"grid": SOLVABLE}, answer.replace("1234 3412 2143 4321", rows(solution)))
    assert verdict.correct is False
    assert reason in verdict.reason, verdict.reason


def test_both_answer_layouts_and_surrounding_whitespace_are_accepted():
    (solution,) = completions(SOLVABLE)
    for text in (solution, rows(solution), f"  {rows(solution)}\n", f"<think>\nx\n</think><answer>{solution}</answer>"):
        assert TASK.verify({"grid": SOLVABLE}, text).correct, text


def test_clashing_givens_have_no_solution():
    problem = {"grid": "11.............."}
    assert TASK.solve(problem) is None
    assert TASK.verify(problem, "No Solution").correct
    assert not TASK.verify(problem, rows(GRIDS[0])).correct


def test_verifier_never_raises_on_odd_input():
    for answer in [None, 42, "\x00" * 16, "🙂" * 16, "1" * 10**6, "<answer>" * 50, "no solution" * 3]:
        verdict = TASK.verify({"grid": SOLVABLE}, answer)
        assert verdict.correct is False and verdict.reason


# ---- step checker ------------------------------------------------------------------------------


def _placement_is_legal(state: str, cell: int, digit: str) -> bool:
    return state[cell] == "." and all(state[j] != digit for j in range(16) if j != cell and same_unit(cell, j))


def _random_walk(rng: random.Random, puzzle: str, n_steps: int):
    """Placements, back steps and malformed lines, with the reference (valid, solvable) of each."""
    state, reached = puzzle, [puzzle]
    steps, expected = [], []
    for _ in range(n_steps):
        kind = rng.random()
        if kind < 0.15:
            back = rng.choice(reached) if rng.random() < 0.7 else "".join(rng.choice(DIGITS + ".") for _ in range(16))
            steps.append(f"back to {rows(back)}")
            if back in reached:
                state = back
                expected.append((True, bool(completions(state))))
            else:
                expected.append((False, False))
            continue
        if kind < 0.22:
            steps.append(rng.choice(_MANGLED)(state, rng))
            expected.append((False, False))
            continue
        blanks = [i for i in range(16) if state[i] == "."]
        cell = rng.choice(blanks) if blanks and rng.random() < 0.9 else rng.randrange(16)
        digit = rng.choice(DIGITS)
        after = state[:cell] + digit + state[cell + 1 :]
        said = after
        if rng.random() < 0.1:  # restate a wrong grid
            k = rng.randrange(16)
            said = after[:k] + rng.choice((DIGITS + ".").replace(after[k], "")) + after[k + 1 :]
        steps.append(f"r{cell // 4 + 1}c{cell % 4 + 1}={digit}, grid {rows(said)}")
        if _placement_is_legal(state, cell, digit) and said == after:
            state = after
            reached.append(state)
            expected.append((True, bool(completions(state))))
        else:
            expected.append((False, False))
    return steps, expected


_MANGLED = [
    lambda s, rng: f"r1c1 = 1, grid {rows(s)}",
    lambda s, rng: f"R1C1=1, grid {rows(s)}",
    lambda s, rng: f"r0c1=1, grid {rows(s)}",
    lambda s, rng: f"r1c5=1, grid {rows(s)}",
    lambda s, rng: f"r1c1=5, grid {rows(s)}",
    lambda s, rng: f"r1c1=1 grid {rows(s)}",
    lambda s, rng: "r1c1=1",
    lambda s, rng: f"r1c1=1, grid {s}",
    lambda s, rng: f"r١c1=1, grid {rows(s)}",
    lambda s, rng: f"back to {s}",
    lambda s, rng: f"back to {rows(s)[:-5]}",
    lambda s, rng: f"back  to {rows(s)}",
    lambda s, rng: f"undo r{rng.randint(1, 4)}c1",
    lambda s, rng: "",
    lambda s, rng: "🙂",
]


def test_step_checker_matches_brute_force_on_random_walks():
    rng = random.Random(32)
    checked = valid = dead = 0
    for _ in range(1500):
        puzzle = random_puzzle(rng)
        steps, expected = _random_walk(rng, puzzle, rng.randint(1, 10))
        checks = TASK.check_steps({"grid": puzzle}, steps)
        assert [c.index for c in checks] == list(range(len(steps)))
        assert [(c.valid, c.solvable) for c in checks] == expected, (puzzle, steps, checks)
        checked += len(steps)
        valid += sum(v for v, _ in expected)
        dead += sum(v and not s for v, s in expected)
    assert checked > 6000 and valid > 2000 and dead > 300


@pytest.mark.parametrize(
    "step, reason",
    [
        ("r1c1=3, grid 32.4 .3.. .... ...1", "cell r1c1 is not empty: it holds 1"),
        ("r1c3=4, grid 1244 .3.. .... ...1", "4 is already in row 1"),
        ("r3c2=3, grid 12.4 .3.. .3.. ...1", "3 is already in column 2"),
        ("r2c1=2, grid 12.4 23.. .... ...1", "2 is already in the top-left box"),
        ("r1c3=3, grid 12.4 .3.. .... ...1", "the grid after r1c3=3 is 1234 .3.. .... ...1, not 12.4 .3.. .... ...1"),
        ("back to 1234 .3.. .... ...1", "not reached earlier"),
        ("r1c3=3", "neither"),
    ],
)
def test_invalid_steps_say_why(step, reason):
    (check,) = TASK.check_steps({"grid": SOLVABLE}, [step])
    assert not check.valid and not check.solvable and reason in check.reason, check.reason


def test_invalid_step_leaves_the_grid_unchanged():
    steps = ["r1c3=3, grid 1234 .3.. .... ...1", "r1c3=2, grid 1224 .3.. .... ...1", "r2c1=4, grid 1234 43.. .... ...1"]
    checks = TASK.check_steps({"grid": SOLVABLE}, steps)
    assert [c.valid for c in checks] == [True, False, True]


# ---- writers -----------------------------------------------------------------------------------


_PLACE = re.compile(r"r([1-4])c([1-4])=([1-4]), grid (.*)")


def _placements(steps, start):
    """(grid before, cell, grid after) of each placement line, following back steps."""
    grid, out = start, []
    for step in steps:
        if step.startswith("back to "):
            grid = step[len("back to ") :].replace(" ", "")
            continue
        row, column, _, after = _PLACE.fullmatch(step).groups()
        out.append((grid, (int(row) - 1) * 4 + int(column) - 1, after.replace(" ", "")))
        grid = out[-1][2]
    return out


def _n_candidates(grid, cell):
    return sum(_placement_is_legal(grid, cell, d) for d in DIGITS)


def _breadth_first_placements(puzzle):
    """The grids a breadth-first search branching on the most constrained cell places, level by
    level (parents in order, digits ascending), up to the first full grid."""
    level, placed = [puzzle], []
    while level:
        next_level = []
        for grid in level:
            blanks = [i for i in range(16) if grid[i] == "."]
            cell = min(blanks, key=lambda i: (_n_candidates(grid, i), i))
            for digit in DIGITS:
                if _placement_is_legal(grid, cell, digit):
                    placed.append(grid[:cell] + digit + grid[cell + 1 :])
                    if "." not in placed[-1]:
                        return placed
                    next_level.append(placed[-1])
        level = next_level
    return placed


@pytest.mark.parametrize("unique", [True, False])
def test_writers_follow_their_orders_and_end_at_a_reference_completion(unique):
    dead_ends = 0
    for blanks in range(1, 13 if unique else 17):
        n = 12 if blanks <= 12 else 3  # bfs traces of 13+ blanks without uniqueness run to thousands of lines
        for problem in TASK.problems(n, seed=40 + blanks, difficulty={"blanks": blanks, "unique": unique}):
            puzzle = problem["grid"]
            cot = split_steps(TASK.trace(problem, "cot"))
            assert len(cot) == blanks
            for order in TASK.search_orders:
                trace = TASK.trace(problem, "search", order)
                steps = split_steps(trace)
                checks = TASK.check_steps(problem, steps)
                assert all(c.valid for c in checks) and checks[-1].solvable, trace
                assert TASK.verify(problem, trace).correct and _placements(steps, puzzle)[-1][2] in completions(puzzle)
                dead_ends += sum(not c.solvable for c in checks)
                moves = _placements(steps, puzzle)
                if order == "dfs":
                    assert all(cell == before.index(".") for before, cell, _ in moves), trace
                elif order == "best-first":
                    for before, cell, _ in moves:
                        fewest = min(_n_candidates(before, i) for i in range(16) if before[i] == ".")
                        assert _n_candidates(before, cell) == fewest, trace
                else:
                    assert [after for *_, after in moves] == _breadth_first_placements(puzzle), trace
    assert dead_ends > 50


def test_unsolvable_traces_search_exhaustively_and_say_so():
    for blanks in range(4, 14):
        difficulty = {"blanks": blanks, "unique": False}
        for problem in TASK.problems(6, seed=50 + blanks, difficulty=difficulty, solvable=False):
            assert TASK.trace(problem, "cot") == TASK.trace(problem, "search", "dfs")
            for order in TASK.search_orders:
                trace = TASK.trace(problem, "search", order)
                steps = split_steps(trace)
                checks = TASK.check_steps(problem, steps)
                assert TASK.verify(problem, trace).correct and trace.endswith("<answer>no solution</answer>")
                assert any(s.startswith("r") for s in steps) and steps[-1] == f"back to {rows(problem['grid'])}"
                assert all(c.valid and not c.solvable for c in checks)


# ---- generation and knobs ----------------------------------------------------------------------


def test_unique_puzzles_have_exactly_one_completion():
    for blanks in range(1, 13):
        for problem in TASK.problems(40, seed=blanks, difficulty={"blanks": blanks}):
            assert problem["grid"].count(".") == blanks
            assert len(completions(problem["grid"])) == 1, problem


def test_non_unique_puzzles_are_solvable_and_often_have_several_completions():
    several = 0
    for blanks in range(1, 17):
        for problem in TASK.problems(30, seed=blanks, difficulty={"blanks": blanks, "unique": False}):
            assert problem["grid"].count(".") == blanks
            assert completions(problem["grid"])
            several += len(completions(problem["grid"])) > 1
    assert several > 100


def test_unsolvable_puzzles_hide_their_contradiction():
    for blanks in range(4, 14):
        difficulty = {"blanks": blanks, "unique": False}
        for problem in TASK.problems(8, seed=blanks, difficulty=difficulty, solvable=False):
            grid = problem["grid"]
            assert grid.count(".") == blanks and not clashes(grid) and has_open_blanks(grid)
            assert not completions(grid)


@pytest.mark.parametrize("blanks", [1, 2, 3, 14, 15, 16])
def test_unsolvable_request_outside_the_feasible_blanks_is_refused(blanks):
    with pytest.raises(ArborError, match="unsolvable sudoku puzzles need difficulty knob 'blanks' from 4 to 13"):
        next(TASK.problems(1, difficulty={"blanks": blanks, "unique": False}, solvable=False))


def random_clash_free(rng: random.Random, blanks: int) -> str:
    """Random digits filled row-major wherever they clash with nothing, leaving `blanks` random blanks."""
    while True:
        cells, empty = ["."] * 16, set(rng.sample(range(16), blanks))
        for i in sorted(set(range(16)) - empty):
            options = [d for d in DIGITS if all(cells[j] != d for j in range(16) if same_unit(i, j))]
            if not options:
                break
            cells[i] = rng.choice(options)
        else:
            return "".join(cells)


def test_hidden_contradictions_need_4_blanks_and_3_givens():
    """Why unsolvable puzzles have 4 to 13 blanks: random 1-3 blank grids, and every 2-given grid."""
    rng = random.Random(33)
    hidden = obvious = 0
    for _ in range(2000):
        puzzle = random_clash_free(rng, rng.randint(1, 3))
        if has_open_blanks(puzzle):
            assert completions(puzzle), puzzle
            hidden += 1
        else:
            obvious += not completions(puzzle)
    assert hidden > 1000 and obvious > 200
    for i, j in [(i, j) for i in range(16) for j in range(i + 1, 16)]:
        for a, b in product(DIGITS, repeat=2):
            puzzle = "".join(a if k == i else b if k == j else "." for k in range(16))
            assert clashes(puzzle) or completions(puzzle), puzzle
    three = "12....3........."  # 12.. ..3. .... ....: r1c3 and r1c4 need 3 and 4, but 3 is in both their units
    assert not clashes(three) and has_open_blanks(three) and not completions(three)
    assert TASK.solve({"grid": three}) is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"blanks": 0}, "'blanks' must be an integer from 1 to 16"),
        ({"blanks": 17}, "'blanks' must be an integer from 1 to 16"),
        ({"blanks": "ten"}, "'blanks' must be an integer from 1 to 16"),
        ({"blanks": 2.5}, "'blanks' must be an integer from 1 to 16"),
        ({"unique": "maybe"}, "'unique' must be true or false"),
        ({"blanks": 13}, "'blanks' must be at most 12 when 'unique' is true"),
        ({"blanks": 16, "unique": True}, "'blanks' must be at most 12 when 'unique' is true"),
    ],
)
def test_bad_knobs_are_one_sentence(overrides, message):
    with pytest.raises(ArborError, match=re.escape(message)):
        TASK.difficulty(overrides)


def test_many_blanks_are_allowed_without_uniqueness():
    assert TASK.difficulty({"blanks": 16, "unique": "false"}) == {"blanks": 16, "unique": False}


@pytest.mark.parametrize(
    "problem",
    [
        "1234",
        {},
        {"grid": None},
        {"grid": ["1", "2"]},
        {"grid": "12.." * 4 + "."},
        {"grid": "12.."},
        {"grid": "0..." * 4},
        {"grid": "5..." * 4},
        {"grid": "_..." * 4},
        {"grid": "١..." * 4},
        {"grid": "12.. ..3. .3.. ..21"},
    ],
)
def test_malformed_problems_name_the_field(problem):
    with pytest.raises(ArborError, match="grid"):
        TASK.validate_problem(problem)


def test_prompt_lists_the_rows():
    assert TASK.prompt({"grid": "12....3..3....21"}) == "sudoku 12.. ..3. .3.. ..21"
    assert TASK.validate_problem({"grid": "12....3..3....21", "extra": 1}) == {"grid": "12....3..3....21"}
