"""Sudoku: fill a 4x4 grid so every row, column and 2x2 box holds the digits 1-4 once each.

A problem is ``{"grid": "12....3..3....21"}``: 16 characters, row-major, a digit 1-4 for each given
and ``.`` for each blank. The prompt shows the rows separated by spaces: ``sudoku 12.. ..3. .3.. ..21``.
Grids whose givens already clash are well-formed problems with no solution. Generated unsolvable
puzzles are subtler: no given clashes and every blank has a candidate digit, yet no completion
exists (``12.. ..3. .... ....``: r1c3 and r1c4 need 3 and 4, and 3 is in both their units).

The answer is the completed grid as 16 digits 1-4, either run together (``1234341221434321``) or as
4 rows of 4 separated by single spaces (``1234 3412 2143 4321``); nothing else is accepted. Any
valid completion that keeps every given is correct; ``no solution`` is correct iff there is none.

Two step forms, each restating the whole grid (rows separated by spaces):

    r2c4=4, grid 12.. ..34 .3.. ..21      write 4 in the empty cell at row 2, column 4
    back to 12.. ..3. .3.. ..21            return to a grid reached earlier in the trace

A placement is valid when the cell is empty, the digit is not already in the cell's row, column or
box, and the restated grid is the grid after the placement. A step is solvable when its grid still
has a valid completion.
"""

from __future__ import annotations

import random
import re
from collections import Counter, deque
from functools import lru_cache
from itertools import islice
from typing import Any, Callable, Iterator, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict, register
from arborlab.text import answer_text

DIGITS = "1234"
BLANK = "."
SIZE = 16
MAX_UNIQUE_BLANKS = 12  # a 4x4 sudoku with one solution has at least 4 givens
# Hidden contradictions (see random_dead_grid) need at least 4 blanks and 3 givens (exhaustive check).
MIN_UNSOLVABLE_BLANKS, MAX_UNSOLVABLE_BLANKS = 4, 13
MAX_TRIES = 100_000
ROW_WORDS = r"[1-4.]{4} [1-4.]{4} [1-4.]{4} [1-4.]{4}"
PLACE_STEP = re.compile(rf"r([1-4])c([1-4])=([1-4]), grid ({ROW_WORDS})")
BACK_STEP = re.compile(rf"back to ({ROW_WORDS})")
COUNT_WORDS = {2: "two", 3: "three", 4: "four"}
BOX_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")

Choice = tuple[int, list[str]]  # a blank cell and the digits it may take


def _box(cell: int) -> int:
    return cell // 8 * 2 + cell % 4 // 2


def _units() -> list[tuple[str, tuple[int, ...]]]:
    """The 12 units (rows, columns, boxes) by name, each a tuple of 4 cells."""
    rows = [(f"row {r + 1}", tuple(range(4 * r, 4 * r + 4))) for r in range(4)]
    columns = [(f"column {c + 1}", tuple(range(c, SIZE, 4))) for c in range(4)]
    boxes = [(f"the {BOX_NAMES[b]} box", tuple(i for i in range(SIZE) if _box(i) == b)) for b in range(4)]
    return rows + columns + boxes


UNITS = _units()
PEERS = tuple(tuple(j for j in range(SIZE) if j != i and any(i in u and j in u for _, u in UNITS)) for i in range(SIZE))


# ---- grids -------------------------------------------------------------------------------------


def cell_name(cell: int) -> str:
    return f"r{cell // 4 + 1}c{cell % 4 + 1}"


def rows_text(grid: str) -> str:
    """The grid as 4 row words: ``12.. ..3. .3.. ..21``."""
    return " ".join(grid[r : r + 4] for r in range(0, SIZE, 4))


def place(grid: str, cell: int, digit: str) -> str:
    return grid[:cell] + digit + grid[cell + 1 :]


def candidates(grid: str, cell: int) -> list[str]:
    """The digits not yet in the row, column or box of `cell`, ascending."""
    used = {grid[peer] for peer in PEERS[cell]}
    return [digit for digit in DIGITS if digit not in used]


def clash(grid: str) -> tuple[str, str] | None:
    """The first unit holding a digit more than once and what it holds (``("row 2", "two 3s")``), or None."""
    for unit_name, cells in UNITS:
        counts = Counter(grid[cell] for cell in cells if grid[cell] != BLANK)
        for digit in DIGITS:
            if counts[digit] > 1:
                return unit_name, f"{COUNT_WORDS[counts[digit]]} {digit}s"
    return None


def first_blank(grid: str) -> Choice | None:
    """The first blank in row-major order with its candidates; None when the grid is full."""
    cell = grid.find(BLANK)
    return None if cell < 0 else (cell, candidates(grid, cell))


def most_constrained(grid: str) -> Choice | None:
    """The blank with the fewest candidates (first in row-major order on ties); None when full."""
    best: Choice | None = None
    for cell in range(SIZE):
        if grid[cell] == BLANK:
            options = candidates(grid, cell)
            if best is None or len(options) < len(best[1]):
                best = (cell, options)
                if not options:
                    break
    return best


def completions(grid: str) -> Iterator[str]:
    """Every completion of a clash-free grid (most constrained cell first, digits ascending)."""
    choice = most_constrained(grid)
    if choice is None:
        yield grid
        return
    cell, options = choice
    for digit in options:
        yield from completions(place(grid, cell, digit))


@lru_cache(maxsize=1 << 16)
def first_completion(grid: str) -> str | None:
    """One valid completion of `grid`, or None when there is none (memoized)."""
    return None if clash(grid) else next(completions(grid), None)


def count_completions(grid: str, limit: int) -> int:
    """The number of valid completions of `grid`, counting no further than `limit`."""
    return 0 if clash(grid) else sum(1 for _ in islice(completions(grid), limit))


# ---- generation --------------------------------------------------------------------------------


def random_full_grid(rng: random.Random) -> str:
    """A random valid full grid: row-major backtracking over shuffled digits."""

    def fill(grid: str) -> str | None:
        choice = first_blank(grid)
        if choice is None:
            return grid
        cell, options = choice
        rng.shuffle(options)
        for digit in options:
            if (full := fill(place(grid, cell, digit))) is not None:
                return full
        return None

    full = fill(BLANK * SIZE)
    assert full is not None  # the empty grid has completions
    return full


def carve(rng: random.Random, full: str, blanks: int, unique: bool) -> str | None:
    """Blank cells of `full` in random order, skipping any that would allow a second completion.

    Returns a grid with exactly `blanks` blanks, or None when this order gets stuck before that.
    """
    grid, removed = full, 0
    for cell in rng.sample(range(SIZE), SIZE):
        if removed == blanks:
            break
        trial = place(grid, cell, BLANK)
        if not unique or count_completions(trial, 2) == 1:
            grid, removed = trial, removed + 1
    return grid if removed == blanks else None


def random_dead_grid(rng: random.Random, blanks: int) -> str | None:
    """Random non-clashing givens in random cells, kept (else None) when every blank still has a
    candidate digit but the grid has no completion: the contradiction only shows by searching."""
    grid = BLANK * SIZE
    for cell in rng.sample(range(SIZE), SIZE - blanks):
        options = candidates(grid, cell)
        if not options:
            return None
        grid = place(grid, cell, rng.choice(options))
    if any(grid[cell] == BLANK and not candidates(grid, cell) for cell in range(SIZE)):
        return None
    return grid if first_completion(grid) is None else None


# ---- answers -----------------------------------------------------------------------------------


def parse_answer(text: str) -> str:
    """The 16-digit grid an answer writes; raises ValueError with the reason it is malformed."""
    if not text:
        raise ValueError("the answer is empty")
    stray = sorted(set(text) - set(DIGITS + " "))
    if stray:
        raise ValueError(
            f"the answer contains {''.join(stray[:8])!r}; "
            "only the digits 1-4 and single spaces between rows are allowed"
        )
    digits = text.replace(" ", "")
    if len(digits) != SIZE:
        raise ValueError(f"the answer has {len(digits)} digits, not {SIZE}")
    if " " in text and [len(row) for row in text.split(" ")] != [4, 4, 4, 4]:
        raise ValueError("the answer's spaces must separate 4 rows of 4 digits, as in 1234 3412 2143 4321")
    return digits


def grid_fault(given: str, grid: str) -> str | None:
    """Why the full `grid` is not a valid completion of `given`, or None when it is."""
    for cell in range(SIZE):
        if given[cell] != BLANK and grid[cell] != given[cell]:
            return f"cell {cell_name(cell)} was given as {given[cell]}, but the answer has {grid[cell]}"
    found = clash(grid)
    return None if found is None else f"{found[0]} has {found[1]}"


# ---- steps -------------------------------------------------------------------------------------


def place_line(cell: int, digit: str, grid: str) -> str:
    return f"{cell_name(cell)}={digit}, grid {rows_text(grid)}"


def back_line(grid: str) -> str:
    return f"back to {rows_text(grid)}"


def replay(step: str, grid: str, reached: set[str]) -> tuple[str | None, str]:
    """The grid after `step`, with a reason; (None, why) when the step is not valid."""
    if match := PLACE_STEP.fullmatch(step):
        row, column, digit, said = match.groups()
        cell = (int(row) - 1) * 4 + int(column) - 1
        name = cell_name(cell)
        if grid[cell] != BLANK:
            return None, f"cell {name} is not empty: it holds {grid[cell]}"
        for unit_name, cells in UNITS:
            if cell in cells and any(grid[other] == digit for other in cells):
                return None, f"{digit} is already in {unit_name}"
        after = place(grid, cell, digit)
        if said != rows_text(after):
            return None, f"the grid after {name}={digit} is {rows_text(after)}, not {said}"
        return after, f"{name}={digit} breaks no rule"
    if match := BACK_STEP.fullmatch(step):
        back = match.group(1).replace(" ", "")
        if back not in reached:
            return None, f"the grid {match.group(1)} was not reached earlier in the trace"
        return back, "returns to a grid reached earlier"
    return None, "the step is neither 'rRcC=D, grid ROWS' nor 'back to ROWS'"


# ---- searches ----------------------------------------------------------------------------------


class _Writer:
    """Accumulates step lines, writing a back step whenever the next move starts elsewhere."""

    def __init__(self, start: str):
        self.start, self.current, self.steps = start, start, []

    def move(self, grid: str, cell: int, digit: str) -> str:
        if self.current != grid:
            self.steps.append(back_line(grid))
        self.current = place(grid, cell, digit)
        self.steps.append(place_line(cell, digit, self.current))
        return self.current

    def give_up(self) -> None:
        """After an exhaustive failed search: return to the start to show every branch is spent."""
        if self.current != self.start:
            self.steps.append(back_line(self.start))


def _depth_first(writer: _Writer, choose: Callable[[str], Choice | None]) -> str | None:
    """Backtracking on the cell `choose` picks, digits ascending; the full grid found, or None."""

    def visit(grid: str) -> str | None:
        choice = choose(grid)
        if choice is None:
            return grid
        cell, options = choice
        for digit in options:
            if (goal := visit(writer.move(grid, cell, digit))) is not None:
                return goal
        return None

    return visit(writer.start)


def _breadth_first(writer: _Writer) -> str | None:
    """Breadth-first over partial grids, branching on the most constrained cell only."""
    if BLANK not in writer.start:
        return writer.start
    frontier = deque([writer.start])
    while frontier:
        grid = frontier.popleft()
        cell, options = most_constrained(grid)
        for digit in options:
            child = writer.move(grid, cell, digit)
            if BLANK not in child:
                return child
            frontier.append(child)
    return None


# ---- the task ----------------------------------------------------------------------------------


@register
class Sudoku(Task):
    """Complete a 4x4 sudoku (2x2 boxes, digits 1-4)."""

    name = "sudoku"
    summary = "Fill a 4x4 sudoku (2x2 boxes, digits 1-4); backtracking search with dead ends."
    knobs = (
        Knob("blanks", 10, "how many cells are empty", low=1, high=SIZE),
        Knob("unique", True, "the puzzle has exactly one solution (ignored for unsolvable puzzles)"),
    )

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        if difficulty["unique"] and difficulty["blanks"] > MAX_UNIQUE_BLANKS:
            raise ArborError(
                f"difficulty knob 'blanks' must be at most {MAX_UNIQUE_BLANKS} when 'unique' is true "
                f"(a 4x4 sudoku with one solution needs at least 4 givens), got {difficulty['blanks']}."
            )

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """Solvable: a random full grid with cells blanked while the requested uniqueness holds.

        Unsolvable: random non-clashing givens that leave every blank a candidate, kept only when the
        solver finds no completion.
        """
        blanks, unique = difficulty["blanks"], difficulty["unique"]
        if not solvable and not MIN_UNSOLVABLE_BLANKS <= blanks <= MAX_UNSOLVABLE_BLANKS:
            raise ArborError(
                f"unsolvable sudoku puzzles need difficulty knob 'blanks' from {MIN_UNSOLVABLE_BLANKS} to "
                f"{MAX_UNSOLVABLE_BLANKS} (outside that range no grid hides a contradiction), got {blanks}."
            )
        for _ in range(MAX_TRIES):
            grid = carve(rng, random_full_grid(rng), blanks, unique) if solvable else random_dead_grid(rng, blanks)
            if grid is not None:
                return {"grid": grid}
        kind = "solvable" if solvable else "unsolvable"
        raise ArborError(f"no {kind} sudoku with {blanks} blanks was found in {MAX_TRIES} tries.")

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping):
            raise ArborError("a sudoku problem must be a JSON object with a 'grid' field.")
        grid = problem.get("grid")
        if not isinstance(grid, str) or len(grid) != SIZE or not set(grid) <= set(DIGITS + BLANK):
            raise ArborError("sudoku field 'grid' must be a string of 16 characters, each a digit 1-4 or '.'.")
        return {"grid": grid}

    def prompt(self, problem: Problem) -> str:
        return f"sudoku {rows_text(problem['grid'])}"

    def solve(self, problem: Problem) -> str | None:
        solution = first_completion(problem["grid"])
        return None if solution is None else rows_text(solution)

    def verify(self, problem: Problem, answer: str) -> Verdict:
        if not isinstance(answer, str):
            return Verdict(False, "the answer is not text")
        text = answer_text(answer)
        if text.lower() == self.no_solution:
            solution = self.solve(problem)
            if solution is not None:
                return Verdict(False, f"the answer says no solution, but {solution} completes the grid")
            return Verdict(True, "no valid sudoku keeps every given, as the answer says")
        try:
            grid = parse_answer(text)
        except ValueError as error:
            return Verdict(False, str(error))
        fault = grid_fault(problem["grid"], grid)
        if fault is not None:
            return Verdict(False, fault)
        return Verdict(True, "the answer is a valid sudoku that keeps every given")

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Replays placements and back steps from the givens; an invalid step leaves the grid as it was."""
        grid = problem["grid"]
        reached = {grid}
        checks = []
        for index, step in enumerate(steps):
            after, reason = replay(step, grid, reached) if isinstance(step, str) else (None, "the step is not text")
            if after is None:
                checks.append(StepCheck(index, step, False, False, reason))
                continue
            grid = after
            reached.add(grid)
            solvable = first_completion(grid) is not None
            reason += "; the grid can still be completed" if solvable else "; the grid can no longer be completed"
            checks.append(StepCheck(index, step, True, solvable, reason))
        return checks

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        """cot: one placement per blank, most constrained cell first, each digit from one solution.

        search: dfs (backtracking, row-major cells), best-first (backtracking, most constrained cell)
        or bfs (breadth-first, branching on the most constrained cell), digits ascending. An
        exhausted search ends with a step back to the givens and answers no solution; cot on an
        unsolvable puzzle is the dfs search, since no shorter proof is written. bfs on puzzles with
        many solutions (unique false, 13+ blanks) runs to hundreds or thousands of steps.
        """
        start = problem["grid"]
        writer = _Writer(start)
        solution = first_completion(start)
        if style == "cot" and solution is not None:
            grid = start
            while (choice := most_constrained(grid)) is not None:
                cell = choice[0]
                grid = writer.move(grid, cell, solution[cell])
            return writer.steps, rows_text(grid)
        if style == "search" and order == "bfs":
            goal = _breadth_first(writer)
        elif style == "search" and order == "best-first":
            goal = _depth_first(writer, most_constrained)
        else:
            goal = _depth_first(writer, first_blank)
        if goal is None:
            writer.give_up()
            return writer.steps, self.no_solution
        return writer.steps, rows_text(goal)
