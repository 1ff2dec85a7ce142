"""Countdown: combine the given numbers with + - * / to reach the target.

As in TinyZero and Stream-of-Search. A problem is ``{"numbers": [..], "target": T, "use_all": true}``.
The answer is an arithmetic expression over the given numbers, each used exactly once (or at most
once when ``use_all`` is false), evaluated exactly with rationals: fractional intermediate values
are legal in answers, as in TinyZero.

Trace steps use integer intermediate results, as in Stream-of-Search (``a-b`` only when a >= b,
``a/b`` only when b divides a). Two step forms, each restating the target:

    4*5=20, left 6 20, target 24      apply an operation to two numbers of the current state
    back to 4 5 6, target 24          return to a state reached earlier in the trace

As in Stream-of-Search, a state lists its numbers in the order they arose: the numbers not used,
in their order, then the new result (the root state is the prompt's order). A model then copies
numbers rather than sorting them; the step checker accepts any order.

Search orders: depth-first (``dfs``), breadth-first (``bfs``), best-first by distance to the target
(``best-first``), and ``dfs-bounded``: depth-first that first never takes a step whose result
exceeds `BOUND` (999), and only when that pass fails searches again without the bound. With targets
and numbers of at most a few hundred, a larger result can come back only by division, so the first
pass almost always succeeds (countdown-3 with the default knobs: 99.7% of solvable problems), and
the trace never writes a number that takes several tokens, the lines where toy models derail.
``dfs-pruned`` is depth-first that skips the last steps (two numbers left) a comparison rules out:
a sum or product whose larger number already exceeds the target cannot make it. Those are most
of the big products a search writes (countdown-3: 0.83 lines of 1,000 or more a trace for ``dfs``,
0.17 for ``dfs-pruned``), and the traces are a third shorter (8.0 lines instead of 12.3).
``dfs-pruned-products`` skips only such products and keeps every last-step sum that misses: a toy
model trained on ``dfs-pruned`` learned to write the target as a last step's result, since in its
traces last steps almost always land there, and the sums that miss are what keep that honest.
"""

from __future__ import annotations

import ast
import heapq
import random
import re
from collections import Counter, deque
from fractions import Fraction
from functools import lru_cache
from itertools import combinations
from typing import Any, Iterator, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict, register
from arborlab.text import answer_text

State = tuple[int, ...]  # a multiset of integers (sorted where it is a key; in arising order in traces)
MAX_ANSWER_CHARS = 1000
ANSWER_CHARACTERS = frozenset("0123456789+-*/() ")
APPLY_STEP = re.compile(r"(\d+)([-+*/])(\d+)=(\d+), left ((?:\d+ )*\d+), target (\d+)")
BACK_STEP = re.compile(r"back to ((?:\d+ )*\d+), target (\d+)")
OPERATION_NAMES = {"+": "sum", "-": "difference", "*": "product", "/": "quotient"}
BIG_PRODUCT = 1000  # products from here on take several tokens ("whole" numbers are 0-999)


# ---- integer steps (traces) --------------------------------------------------------------------


def integer_op(a: int, op: str, b: int) -> int | None:
    """`a op b` under the trace rules (non-negative, exact division), or None when not allowed."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a >= b else None
    if op == "/":
        return a // b if b != 0 and a % b == 0 else None
    raise ValueError(op)


def children(state: State) -> Iterator[tuple[int, int, str, int, int, State]]:
    """Every integer step from `state`: (i, j, a, op, b, result, next state), in state order.

    Pairs of positions i < j in order, then + - * /; `a` and `b` are the numbers at i and j, except
    that - and / put the larger first. The next state is the unused numbers in order, then the result.
    Steps repeating an earlier one (equal numbers at two positions) are skipped.
    """
    seen = set()
    for i, j in combinations(range(len(state)), 2):
        rest = state[:i] + state[i + 1 : j] + state[j + 1 :]
        for op in "+-*/":
            a, b = (state[i], state[j]) if op in "+*" else (max(state[i], state[j]), min(state[i], state[j]))
            result = integer_op(a, op, b)
            key = (min(a, b), max(a, b), op)
            if result is None or key in seen:
                continue
            seen.add(key)
            yield i, j, a, op, b, result, rest + (result,)


def is_goal(state: State, target: int, use_all: bool) -> bool:
    """Whether `state` shows the target: as its only number, or (use_all false) as any number."""
    return state == (target,) if use_all else target in state


def integer_solvable(state: State, target: int, use_all: bool) -> bool:
    """Whether integer steps lead from `state` (in any order) to a goal state (exhaustive, memoized)."""
    return _sorted_solvable(tuple(sorted(state)), target, use_all)


@lru_cache(maxsize=1 << 18)
def _sorted_solvable(state: State, target: int, use_all: bool) -> bool:
    if is_goal(state, target, use_all):
        return True
    return any(_sorted_solvable(tuple(sorted(nxt)), target, use_all) for *_, nxt in children(state))


# ---- rational expressions (answers) ------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _reachable(values: tuple[Fraction, ...]) -> dict[Fraction, str]:
    """Every value an expression using each of `values` exactly once can take, with one expression.

    Splits the multiset into two non-empty parts in every way, which covers every parenthesization.
    """
    if len(values) == 1:
        return {values[0]: str(values[0])}
    found: dict[Fraction, str] = {}
    n = len(values)
    for mask in range(1, (1 << n) - 1):
        if mask & 1 == 0:  # each split once: the first value always goes left
            continue
        left = tuple(v for k, v in enumerate(values) if mask >> k & 1)
        right = tuple(v for k, v in enumerate(values) if not mask >> k & 1)
        for x, ex in _reachable(left).items():
            for y, ey in _reachable(right).items():
                ex_, ey_ = _wrap(ex), _wrap(ey)
                found.setdefault(x + y, f"{ex_}+{ey_}")
                found.setdefault(x * y, f"{ex_}*{ey_}")
                found.setdefault(x - y, f"{ex_}-{ey_}")
                found.setdefault(y - x, f"{ey_}-{ex_}")
                if y:
                    found.setdefault(x / y, f"{ex_}/{ey_}")
                if x:
                    found.setdefault(y / x, f"{ey_}/{ex_}")
    return found


def _wrap(expression: str) -> str:
    return expression if expression.isdigit() else f"({expression})"


def rational_solution(numbers: list[int], target: int, use_all: bool) -> str | None:
    """An expression reaching `target` exactly (rational intermediates allowed), or None."""
    values = sorted(numbers)
    sizes = [len(values)] if use_all else range(1, len(values) + 1)
    for size in sizes:
        for subset in sorted(set(combinations(values, size))):
            expression = _reachable(tuple(Fraction(v) for v in subset)).get(Fraction(target))
            if expression is not None:
                return expression
    return None


def evaluate_answer(text: str, numbers: list[int], use_all: bool) -> Fraction:
    """The exact value of an answer expression; raises ValueError with the reason it is not allowed."""
    if not text:
        raise ValueError("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    stray = sorted(set(text) - ANSWER_CHARACTERS)
    if stray:
        raise ValueError(f"the answer contains {''.join(stray)!r}; only digits, + - * / ( ) and spaces are allowed")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError):
        raise ValueError("the answer is not a well-formed arithmetic expression") from None
    used: list[int] = []
    value = _evaluate(tree, used)
    counts, given = Counter(used), Counter(numbers)
    for number, count in sorted(counts.items()):
        if number not in given:
            raise ValueError(f"the answer uses {number}, which is not one of the given numbers")
        if count > given[number]:
            raise ValueError(f"the answer uses {number} {count} times but it is given {given[number]} time(s)")
    if use_all and counts != given:
        missing = sorted((given - counts).elements())
        raise ValueError(f"the answer does not use {' '.join(map(str, missing))}; every number must be used once")
    return value


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _evaluate(node.left, used), _evaluate(node.right, used)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise ValueError("the answer divides by zero")
        return left / right
    if isinstance(node, ast.UnaryOp):
        raise ValueError("the answer uses a sign (unary + or -); only binary + - * / are allowed")
    raise ValueError("the answer uses an operation other than + - * / and parentheses")


# ---- the task ----------------------------------------------------------------------------------


@register
class Countdown(Task):
    """Reach the target from the given numbers with + - * /."""

    name = "countdown"
    search_orders = ("dfs", "bfs", "best-first", "dfs-bounded", "dfs-pruned", "dfs-pruned-products")
    summary = "Combine the numbers with + - * / to reach the target (TinyZero, Stream-of-Search)."
    knobs = (
        Knob("n_numbers", 4, "how many numbers are given", low=2, high=6),
        Knob("max_number", 100, "largest given number (the smallest is 1)", low=1, high=1000),
        Knob("min_target", 10, "smallest target", low=0, high=100_000),
        Knob("max_target", 100, "largest target", low=0, high=100_000),
        Knob("use_all", True, "every number must be used exactly once (false: at most once)"),
    )

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        if difficulty["min_target"] > difficulty["max_target"]:
            raise ArborError(
                f"difficulty knob 'min_target' ({difficulty['min_target']}) must not exceed "
                f"'max_target' ({difficulty['max_target']})."
            )

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """Solvable: random numbers, then a target built from random integer steps (as SoS does).

        Unsolvable: random numbers and target, kept only if no rational expression reaches it.
        """
        n, top = difficulty["n_numbers"], difficulty["max_number"]
        low, high, use_all = difficulty["min_target"], difficulty["max_target"], difficulty["use_all"]
        for _ in range(20_000):
            numbers = [rng.randint(1, top) for _ in range(n)]
            if solvable:
                target = _random_reachable(rng, numbers, use_all)
                if target is None or not low <= target <= high:
                    continue
            else:
                target = rng.randint(low, high)
                if rational_solution(numbers, target, use_all) is not None:
                    continue
            return {"numbers": numbers, "target": target, "use_all": use_all}
        kind = "solvable" if solvable else "unsolvable"
        raise ArborError(
            f"no {kind} countdown problem was found for these knobs in 20000 tries; widen 'min_target'..'max_target' "
            "or change 'max_number'."
        )

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping):
            raise ArborError("a countdown problem must be a JSON object with 'numbers' and 'target'.")
        numbers, target = problem.get("numbers"), problem.get("target")
        use_all = problem.get("use_all", True)
        if not isinstance(numbers, list) or not numbers or not all(type(x) is int and x >= 0 for x in numbers):
            raise ArborError("countdown field 'numbers' must be a non-empty list of non-negative integers.")
        if len(numbers) > 6:
            raise ArborError(f"countdown field 'numbers' may hold at most 6 numbers, got {len(numbers)}.")
        if type(target) is not int:
            raise ArborError("countdown field 'target' must be an integer.")
        if not isinstance(use_all, bool):
            raise ArborError("countdown field 'use_all' must be true or false.")
        return {"numbers": list(numbers), "target": target, "use_all": use_all}

    def canonical(self, problem: Problem) -> str:
        rule = "all" if problem.get("use_all", True) else "any"
        return f"{' '.join(map(str, sorted(problem['numbers'])))}|{problem['target']}|{rule}"

    def prompt(self, problem: Problem) -> str:
        rule = "" if problem.get("use_all", True) else " each at most once"
        return f"numbers {' '.join(map(str, problem['numbers']))} target {problem['target']}{rule}"

    def solve(self, problem: Problem) -> str | None:
        """An integer-step solution when there is one (fast), else a rational one, else None."""
        numbers, target, use_all = problem["numbers"], problem["target"], problem.get("use_all", True)
        root = _Node.start(numbers)
        if integer_solvable(root.state, target, use_all):
            return _solution_path(root, target, use_all)[-1].answer(target)
        return rational_solution(numbers, target, use_all)

    def verify(self, problem: Problem, answer: str) -> Verdict:
        text = answer_text(answer)
        target, use_all = problem["target"], problem.get("use_all", True)
        if text.lower() == self.no_solution:
            solution = self.solve(problem)
            if solution is not None:
                return Verdict(False, f"the answer says no solution, but {solution} = {target}")
            return Verdict(True, "no expression reaches the target, as the answer says")
        try:
            value = evaluate_answer(text, problem["numbers"], use_all)
        except ValueError as error:
            return Verdict(False, str(error))
        if value != target:
            return Verdict(False, f"the answer evaluates to {value}, not {target}")
        return Verdict(True, f"the answer evaluates to {target}")

    def answer_key(self, problem: Problem, answer: str) -> str:
        """The expression's exact value when it is a legal answer (equal values vote together)."""
        try:
            return str(evaluate_answer(answer.strip(), problem["numbers"], problem.get("use_all", True)))
        except ValueError:
            return super().answer_key(problem, answer)

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Replays apply/back steps from the given numbers; an invalid step leaves the state as it was."""
        target, use_all = problem["target"], problem.get("use_all", True)
        state: State = tuple(sorted(problem["numbers"]))
        reached = {state}
        checks = []
        for index, step in enumerate(steps):
            new_state, reason = _replay(step, state, target, reached)
            if new_state is None:
                checks.append(StepCheck(index, step, False, False, reason))
                continue
            state = new_state
            reached.add(state)
            solvable = integer_solvable(state, target, use_all)
            reason += "; the target is still reachable" if solvable else "; the target is no longer reachable"
            applied = APPLY_STEP.fullmatch(step)
            value = int(applied.group(4)) if applied else None
            depth = len(problem["numbers"]) - len(state)
            checks.append(StepCheck(index, step, True, solvable, reason, depth=depth, value=value))
        return checks

    def step_kind(self, step: str) -> str:
        """The operation an apply line writes (a product of 1,000 or more apart: its result takes
        several tokens), "back to", or "malformed" for a line of neither form."""
        applied = APPLY_STEP.fullmatch(step)
        if applied:
            a, op, b = int(applied.group(1)), applied.group(2), int(applied.group(3))
            if op == "*" and a * b >= BIG_PRODUCT:
                return f"product >= {BIG_PRODUCT}"
            return OPERATION_NAMES[op]
        return "back to" if BACK_STEP.fullmatch(step) else "malformed"

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        numbers, target, use_all = problem["numbers"], problem["target"], problem.get("use_all", True)
        root = _Node.start(numbers)
        if style == "cot" and integer_solvable(root.state, target, use_all):
            path = _solution_path(root, target, use_all)
            return [node.step_line(target) for node in path[1:]], path[-1].answer(target)
        search = SEARCHES[order]
        steps: list[str] = []
        goal = search(root, target, use_all, steps)
        if goal is not None:
            return steps, goal.answer(target)
        if self.is_solvable(problem):
            raise ArborError(
                "this countdown problem is only solvable with fractional intermediate values, which "
                "chain-of-thought and search steps (integers only, as in Stream-of-Search) cannot show; use style 'direct'."
            )
        return steps, self.no_solution


def _random_reachable(rng: random.Random, numbers: list[int], use_all: bool) -> int | None:
    """The result of combining numbers by random allowed integer steps (all of them, or a random subset)."""
    values = list(numbers)
    count = len(values) if use_all else rng.randint(2, len(values))
    values = rng.sample(values, count)
    while len(values) > 1:
        a, b = sorted(rng.sample(range(len(values)), 2), reverse=True)
        x, y = max(values[a], values[b]), min(values[a], values[b])
        options = [r for op in "+-*/" if (r := integer_op(x, op, y)) is not None]
        values.pop(a)
        values.pop(b)
        values.append(rng.choice(options))
    return values[0]


def _replay(step: str, state: State, target: int, reached: set[State]) -> tuple[State | None, str]:
    """The state after `step`, with a reason; (None, why) when the step is not valid."""
    if match := APPLY_STEP.fullmatch(step):
        a, op, b, result, left, said_target = match.groups()
        a, b, result, said_target = int(a), int(b), int(result), int(said_target)
        if said_target != target:
            return None, f"the step restates the target as {said_target}, but it is {target}"
        pool = Counter(state)
        pool[a] -= 1
        pool[b] -= 1
        if pool[a] < 0 or pool[b] < 0:
            return None, f"{a} and {b} are not both available in {' '.join(map(str, state))}"
        true_result = integer_op(a, op, b)
        if true_result is None:
            return None, f"{a}{op}{b} is not a non-negative whole number"
        if true_result != result:
            return None, f"{a}{op}{b} is {true_result}, not {result}"
        new_state = tuple(sorted(list((pool + Counter([result])).elements())))
        said_left = tuple(sorted(int(x) for x in left.split()))
        if said_left != new_state:
            return None, f"the numbers left are {' '.join(map(str, new_state))}, not {left}"
        return new_state, f"{a}{op}{b}={result} is correct"
    if match := BACK_STEP.fullmatch(step):
        back_state = tuple(sorted(int(x) for x in match.group(1).split()))
        if int(match.group(2)) != target:
            return None, f"the step restates the target as {match.group(2)}, but it is {target}"
        if back_state not in reached:
            return None, f"the state {match.group(1)} was not reached earlier in the trace"
        return back_state, "returns to a state reached earlier"
    return None, "the step is neither 'a op b=c, left …, target T' nor 'back to …, target T'"


class _Node:
    """A search node: the state (in arising order), one expression per number, and the step that made it."""

    def __init__(self, state: State, expressions: tuple[str, ...], parent: "_Node | None", step: str, op: str = "",
                 larger: int = 0):
        self.state, self.expressions, self.parent, self.step = state, expressions, parent, step
        self.op, self.larger = op, larger  # the step's operation and its larger operand
        self.key = tuple(sorted(state))  # the multiset: two orders of the same numbers are one state

    @staticmethod
    def start(numbers: list[int]) -> "_Node":
        return _Node(tuple(numbers), tuple(map(str, numbers)), None, "")

    def expand(self) -> Iterator["_Node"]:
        for i, j, a, op, b, result, state in children(self.state):
            ea, eb = self.expressions[i], self.expressions[j]
            if (a, b) != (self.state[i], self.state[j]):
                ea, eb = eb, ea
            rest = self.expressions[:i] + self.expressions[i + 1 : j] + self.expressions[j + 1 :]
            yield _Node(state, rest + (f"{_wrap(ea)}{op}{_wrap(eb)}",), self, f"{a}{op}{b}={result}", op, max(a, b))

    def step_line(self, target: int) -> str:
        return f"{self.step}, left {' '.join(map(str, self.state))}, target {target}"

    def back_line(self, target: int) -> str:
        return f"back to {' '.join(map(str, self.state))}, target {target}"

    def answer(self, target: int) -> str:
        return self.expressions[self.state.index(target)]


def _solution_path(root: _Node, target: int, use_all: bool) -> list[_Node]:
    """The nodes of a fewest-steps path from a solvable `root` to a goal.

    With every number used, each path has len(numbers) - 1 steps, so following any child that can
    still reach the target is enough; otherwise the fewest steps need a breadth-first search.
    """
    if not use_all:
        return _breadth_first_path(root, target, use_all)
    path = [root]
    while not is_goal(path[-1].state, target, use_all):
        path.append(next(child for child in path[-1].expand() if integer_solvable(child.state, target, use_all)))
    return path


def _breadth_first_path(root: _Node, target: int, use_all: bool) -> list[_Node]:
    """The nodes of a fewest-steps path from `root` to a goal (breadth-first, no trace)."""
    queue, seen = deque([root]), {root.key}
    while queue:
        node = queue.popleft()
        if is_goal(node.state, target, use_all):
            path = [node]
            while path[-1].parent is not None:
                path.append(path[-1].parent)
            return path[::-1]
        for child in node.expand():
            if child.key not in seen:
                seen.add(child.key)
                queue.append(child)
    raise AssertionError("called on an unsolvable state")


#: `dfs-bounded`'s first pass takes no step whose result exceeds this
BOUND = 999


def _depth_first(root: _Node, target: int, use_all: bool, steps: list[str], bound: int | None = None,
                 prune: str = "") -> _Node | None:
    """Depth-first search writing each move and each return; the goal node, or None.

    With a `bound`, steps whose result exceeds it are not taken; `prune` names operations ("+*" or
    "*") whose last steps that `misses_at_last_step` rules out are not taken.
    """
    visited = {root.key}

    def visit(node: _Node) -> _Node | None:
        if is_goal(node.state, target, use_all):
            return node
        for child in node.expand():
            if child.key in visited or (bound is not None and child.state[-1] > bound):
                continue
            if prune and misses_at_last_step(node, child, target, prune):
                continue
            visited.add(child.key)
            steps.append(child.step_line(target))
            if (goal := visit(child)) is not None:
                return goal
            steps.append(node.back_line(target))
        return None

    return visit(root)


def _frontier_search(root: _Node, target: int, use_all: bool, steps: list[str], priority) -> _Node | None:
    """Expand nodes in `priority` order (smallest first), writing each move and each return."""
    if is_goal(root.state, target, use_all):
        return root
    frontier = [(priority(root, 0), 0, root)]
    visited, current, counter = {root.key}, root, 1
    while frontier:
        *_, node = heapq.heappop(frontier)
        for child in node.expand():
            if child.key in visited:
                continue
            visited.add(child.key)
            if current is not node:
                steps.append(node.back_line(target))
            steps.append(child.step_line(target))
            current = child
            if is_goal(child.state, target, use_all):
                return child
            heapq.heappush(frontier, (priority(child, counter), counter, child))
            counter += 1
    return None


def misses_at_last_step(node: _Node, child: _Node, target: int, ops: str = "+*") -> bool:
    """Whether `child` is a last step (two numbers left) that cannot make the target, seen without
    computing it: a sum or product (of the operations in `ops`) whose larger operand already exceeds
    the target. The numbers are non-negative integers, so such a sum exceeds the target, and such a
    product does too, or is 0 (a zero factor), which a target of at least 1 is not.
    """
    return len(node.state) == 2 and child.op in ops and child.larger > target >= 1


def _pruned_depth_first(root: _Node, target: int, use_all: bool, steps: list[str]) -> _Node | None:
    return _depth_first(root, target, use_all, steps, prune="+*")


def _product_pruned_depth_first(root: _Node, target: int, use_all: bool, steps: list[str]) -> _Node | None:
    return _depth_first(root, target, use_all, steps, prune="*")


def _bounded_depth_first(root: _Node, target: int, use_all: bool, steps: list[str]) -> _Node | None:
    """Depth-first within `BOUND`, then (only if that fails) depth-first without it, in one trace."""
    return _depth_first(root, target, use_all, steps, BOUND) or _depth_first(root, target, use_all, steps)


def _breadth_first(root: _Node, target: int, use_all: bool, steps: list[str]) -> _Node | None:
    return _frontier_search(root, target, use_all, steps, lambda node, counter: counter)


def _best_first(root: _Node, target: int, use_all: bool, steps: list[str]) -> _Node | None:
    """Best-first by the distance of the nearest number to the target (ties: fewer numbers first)."""
    return _frontier_search(
        root, target, use_all, steps, lambda node, counter: (min(abs(v - target) for v in node.state), len(node.state))
    )


SEARCHES = {"dfs": _depth_first, "bfs": _breadth_first, "best-first": _best_first, "dfs-bounded": _bounded_depth_first,
            "dfs-pruned": _pruned_depth_first, "dfs-pruned-products": _product_pruned_depth_first}
