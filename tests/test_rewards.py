"""Rewards from the verifier and step checker, the RLVR controls, and the TRL-signature adapter."""

import json
import logging
import math

import pytest

from arborlab.errors import ArborError
from arborlab.rewards import Rewarder, for_trl, format_score, step_score
from arborlab.tasks import get_task

PROBLEM = {"numbers": [5, 4, 6], "target": 15, "use_all": True}
RIGHT = "<think>\n5+4=9, left 6 9, target 15\n9+6=15, left 15, target 15\n</think><answer>(5+4)+6</answer>"
WRONG_ANSWER = "<think>\n5+4=9, left 6 9, target 15\n</think><answer>(5*4)+6</answer>"
HALF_VALID = "<think>\n5+4=9, left 6 9, target 15\n9*6=50, left 50, target 15\n</think><answer>(5+4)+6</answer>"


def test_exact_reward_follows_the_verifier():
    rewarder = Rewarder("countdown", "exact")
    assert rewarder.score(PROBLEM, RIGHT).reward == 1.0 and rewarder.score(PROBLEM, RIGHT).correct
    score = rewarder.score(PROBLEM, WRONG_ANSWER)
    assert score.reward == 0.0 and not score.correct and score.reason


@pytest.mark.parametrize(
    "text, expected",
    [
        (RIGHT, 1.0),
        ("<think>\n</think><answer>yes</answer>", 1.0),  # a direct answer is well formed
        ("<think>\n</think><answer> </answer>", 0.0),  # empty answer
        ("<answer>(5+4)+6</answer>", 0.0),  # no think block
        (RIGHT + " and more", 0.0),  # text after the answer
        (RIGHT.replace("</think>", ""), 0.0),
    ],
)
def test_format_score(text, expected):
    assert format_score(text) == expected


def test_step_reward_is_the_share_of_valid_steps():
    task = get_task("countdown")
    # 5+4=9 is valid; 9*6=50 is wrong arithmetic: one of two steps valid.
    assert step_score(task, PROBLEM, HALF_VALID) == 0.5
    assert step_score(task, PROBLEM, RIGHT) == 1.0
    assert step_score(task, PROBLEM, "<think>\n</think><answer>1</answer>") == 0.0
    assert Rewarder(task, "steps").score(PROBLEM, HALF_VALID).reward == 0.5


def test_positive_and_negative_only_controls():
    positive, negative = Rewarder("countdown", "positive_only"), Rewarder("countdown", "negative_only")
    assert [positive.score(PROBLEM, t).reward for t in (RIGHT, WRONG_ANSWER)] == [1.0, 0.0]
    assert [negative.score(PROBLEM, t).reward for t in (RIGHT, WRONG_ANSWER)] == [0.0, -1.0]
    assert not positive.baseline and not negative.baseline and Rewarder("countdown", "exact").baseline


def test_random_reward_is_bernoulli_and_ignores_correctness():
    n, p = 4000, 0.3
    rewards = [Rewarder("countdown", "random", random_p=p, seed=1).score(PROBLEM, RIGHT).reward for _ in range(3)]
    assert len(set(rewards)) == 1  # the same seed gives the same draw
    rewarder = Rewarder("countdown", "random", random_p=p, seed=2)
    right = [rewarder.score(PROBLEM, RIGHT).reward for _ in range(n)]
    wrong = [rewarder.score(PROBLEM, WRONG_ANSWER).reward for _ in range(n)]
    sigma = math.sqrt(p * (1 - p) / n)
    for draws in (right, wrong):
        assert set(draws) <= {0.0, 1.0} and abs(sum(draws) / n - p) < 4 * sigma


def test_format_weight_adds_the_format_score():
    rewarder = Rewarder("countdown", "exact", format_weight=0.1)
    assert rewarder.score(PROBLEM, WRONG_ANSWER).reward == pytest.approx(0.1)
    assert rewarder.score(PROBLEM, "(5+4)+6").reward == pytest.approx(1.0)  # correct but unformatted


def test_a_scorer_never_raises(caplog, monkeypatch):
    rewarder = Rewarder("countdown", "exact")
    with caplog.at_level(logging.WARNING, logger="arborlab.rewards"):
        score = rewarder.score(PROBLEM, None)
    assert score.reward == 0.0 and not score.correct and "TypeError" in score.reason
    assert "scoring failed" in caplog.text

    def broken(problem, answer):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(rewarder.task, "verify", broken)
    score = rewarder.score(PROBLEM, RIGHT)
    assert score.reward == 0.0 and "ZeroDivisionError: boom" in score.reason


def test_bad_reward_settings_are_one_sentence():
    with pytest.raises(ArborError, match="unknown reward 'exactly'"):
        Rewarder("countdown", "exactly")
    with pytest.raises(ArborError, match=r"\[0, 1\]"):
        Rewarder("countdown", "random", random_p=1.5)
    with pytest.raises(ArborError, match="advantages"):
        for_trl("countdown", "negative_only")


def test_for_trl_scores_strings_and_conversations():
    reward = for_trl("countdown")
    problems = [json.dumps(PROBLEM), PROBLEM, PROBLEM]
    completions = [RIGHT, WRONG_ANSWER, [{"role": "assistant", "content": RIGHT}]]
    assert reward(prompts=["p"] * 3, completions=completions, problem=problems, completion_ids=None) == [1.0, 0.0, 1.0]
    assert reward(prompts=["p"], completions=[None], problem=[PROBLEM]) == [0.0]  # malformed: 0, not an exception
    with pytest.raises(ArborError, match="'problem' column"):
        reward(prompts=["p"], completions=[RIGHT])
    assert reward.__name__ == "arborlab_countdown_exact"
