"""Checks every registered task keeps the protocol's promises (see arborlab/tasks/base.py).

Task-specific tests (test_<task>.py) check each verifier and step checker against an independent
brute-force reference; this file checks the rules that hold for all tasks.
"""

import json
import random

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task, task_names
from arborlab.text import extract_answer, split_steps

TASKS = task_names()
N_PROBLEMS = 40


def _problems(task, seed=0, solvable=True, n=N_PROBLEMS):
    return list(task.problems(n, seed=seed, solvable=solvable))


@pytest.mark.parametrize("name", TASKS)
def test_same_seed_same_problems_and_traces(name):
    task = get_task(name)
    first = _problems(task, seed=3, n=10)
    assert first == _problems(task, seed=3, n=10)
    assert first != _problems(task, seed=4, n=10)
    assert [task.trace(p, "search") for p in first] == [task.trace(p, "search") for p in _problems(task, seed=3, n=10)]


@pytest.mark.parametrize("name", TASKS)
def test_generated_problems_are_valid_json_and_solvable(name):
    task = get_task(name)
    for problem in _problems(task):
        assert task.validate_problem(json.loads(json.dumps(problem))) == problem
        answer = task.solve(problem)
        assert answer is not None
        assert task.verify(problem, answer).correct


@pytest.mark.parametrize("name", TASKS)
def test_every_writer_replays_through_the_step_checker(name):
    task = get_task(name)
    rng = random.Random(0)
    for problem in _problems(task, seed=1):
        for style in ("direct", "cot", "search"):
            orders = task.search_orders if style == "search" else ("dfs",)
            for order in orders:
                trace = task.trace(problem, style, order, rng)
                assert task.verify(problem, trace).correct, (style, order, trace)
                steps = split_steps(trace)
                checks = task.check_steps(problem, steps)
                assert len(checks) == len(steps)
                if style == "direct":
                    assert steps == []
                elif style == "cot":
                    assert all(c.valid and c.solvable for c in checks), (trace, checks)
                else:
                    _assert_slips_are_abandoned(checks, trace)
                    assert checks == [] or checks[-1].valid and checks[-1].solvable, trace


def _assert_slips_are_abandoned(checks, trace):
    """Search steps are valid, except slips that a later valid step abandons (backtracking)."""
    invalid = [c.index for c in checks if not c.valid]
    for index in invalid:
        assert any(c.valid and c.index > index for c in checks), trace


@pytest.mark.parametrize("name", TASKS)
def test_cot_is_no_longer_than_any_search(name):
    task = get_task(name)
    for problem in _problems(task, seed=2, n=15):
        cot = len(split_steps(task.trace(problem, "cot")))
        for order in task.search_orders:
            assert cot <= len(split_steps(task.trace(problem, "search", order)))


@pytest.mark.parametrize("name", TASKS)
def test_unsolvable_problems_on_request(name):
    task = get_task(name)
    try:
        problems = _problems(task, seed=5, solvable=False, n=5)
    except ArborError as error:  # a task whose problems are always solvable says so
        assert "unsolvable" in str(error)
        return
    for problem in problems:
        assert task.solve(problem) is None
        assert task.verify(problem, task.no_solution).correct
        assert not task.verify(problem, "42").correct


@pytest.mark.parametrize("name", TASKS)
def test_bad_knobs_get_one_sentence(name):
    task = get_task(name)
    with pytest.raises(ArborError, match="no difficulty knob 'nonsense'"):
        task.difficulty({"nonsense": 1})
    for knob in task.knobs:
        bad = "maybe" if isinstance(knob.default, (bool, int)) else "not-a-choice"
        with pytest.raises(ArborError, match=knob.name):
            task.difficulty({knob.name: bad})


@pytest.mark.parametrize("name", TASKS)
def test_verifier_never_raises_on_garbage(name):
    task = get_task(name)
    problem = _problems(task, n=1)[0]
    for garbage in ["", " ", "<answer></answer>", "<answer>", "((((", "1/0", "x" * 5000, "9" * 400, "\x00", "é"]:
        verdict = task.verify(problem, garbage)
        assert verdict.correct is False and verdict.reason


@pytest.mark.parametrize("name", TASKS)
def test_step_checker_flags_garbage_steps(name):
    task = get_task(name)
    problem = _problems(task, n=1)[0]
    checks = task.check_steps(problem, ["this is not a step", ""])
    assert [c.valid for c in checks] == [False, False]


@pytest.mark.parametrize("name", TASKS)
def test_prompt_is_one_line(name):
    task = get_task(name)
    for problem in _problems(task, n=5):
        prompt = task.prompt(problem)
        assert prompt and "\n" not in prompt
        assert extract_answer(task.trace(problem, "direct")) is not None
