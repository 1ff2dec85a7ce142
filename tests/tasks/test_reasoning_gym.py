"""reasoning-gym datasets as answer-only tasks, graded by reasoning-gym's own score_answer."""

import json

import pytest

from arborlab.errors import ArborError
from arborlab.score import score_line
from arborlab.tasks import get_task

reasoning_gym = pytest.importorskip("reasoning_gym")


@pytest.mark.parametrize("dataset", ["countdown", "basic_arithmetic", "mini_sudoku"])
def test_entries_round_trip_and_are_scored_by_reasoning_gym(dataset):
    task = get_task(f"rg:{dataset}")
    reference = reasoning_gym.create_dataset(dataset, size=1, seed=0)
    for problem in task.problems(5, seed=1):
        problem = json.loads(json.dumps(problem))
        right = task.trace(problem, "direct")
        assert task.verify(problem, right).correct
        assert reference.score_answer(problem["answer"], problem) == 1.0
        wrong = task.verify(problem, "certainly not the answer")
        assert not wrong.correct and "score_answer gave" in wrong.reason


def test_knobs_come_from_the_config_and_bad_ones_are_one_sentence():
    task = get_task("rg:countdown")
    assert {"min_numbers", "max_numbers", "min_target"} <= {k.name for k in task.knobs}
    problems = list(task.problems(4, seed=2, difficulty={"min_numbers": 3, "max_numbers": 3}))
    assert all(len(p["metadata"]["numbers"]) == 3 for p in problems)
    with pytest.raises(ArborError, match="max_numbers must be >= min_numbers"):
        task.difficulty({"min_numbers": 5, "max_numbers": 2})


def test_answer_only_and_unknown_names():
    task = get_task("rg:countdown")
    problem = next(task.problems(1))
    with pytest.raises(ArborError, match="answer-only"):
        task.trace(problem, "cot")
    with pytest.raises(ArborError, match="reasoning-gym has no dataset 'nope'"):
        get_task("rg:nope")
    verdict = score_line(task, json.dumps({"problem": problem, "answer": problem["answer"]}), 1)
    assert verdict["correct"] is True
