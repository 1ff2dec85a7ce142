"""pass@k and maj@k against the closed form and brute-force enumeration of k-subsets."""

import random
from collections import Counter
from itertools import combinations
from math import comb

import pytest

from arborlab.evaluate import maj_at_k, pass_at_k, summarize
from arborlab.tasks import get_task


def brute_pass_at_k(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(combinations(range(n), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


def brute_maj_at_k(keys, correct, k):
    good = {key for key, ok in zip(keys, correct) if ok}
    total = 0.0
    subsets = list(combinations(range(len(keys)), k))
    for subset in subsets:
        votes = Counter(keys[i] for i in subset)
        top = max(votes.values())
        leaders = [key for key in votes if votes[key] == top]
        total += sum(key in good for key in leaders) / len(leaders)
    return total / len(subsets)


def test_pass_at_k_equals_enumeration_and_closed_form():
    for n in range(1, 11):
        for c in range(n + 1):
            for k in range(1, n + 1):
                closed = 1 - comb(n - c, k) / comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)
                assert pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n():
    value = pass_at_k(10_000, 3, 256)
    assert value == pytest.approx(1 - comb(9_997, 256) / comb(10_000, 256), rel=1e-9)
    assert pass_at_k(256, 0, 256) == 0.0 and pass_at_k(256, 1, 256) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)


def test_maj_at_k_equals_enumeration():
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 9)
        keys = [rng.choice("abcd") for _ in range(n)]
        correct_key = rng.choice("abcd")
        correct = [key == correct_key for key in keys]
        for k in range(1, n + 1):
            assert maj_at_k(keys, correct, k) == pytest.approx(brute_maj_at_k(keys, correct, k), abs=1e-12)


def test_summarize_groups_equal_values_for_voting():
    task = get_task("countdown")
    problem = {"numbers": [3, 5, 7, 8], "target": 23, "use_all": True}
    answers = ["3+5+7+8", "8+7+5+3", "3*5+7-8+9", "3*5*7*8", "(3+5)*(8-7)"]
    report = summarize(task, [{"problem": problem, "difficulty": {"n": 4}}], [answers], ks=(1, 3, 5))
    assert report["accuracy"] == pytest.approx(2 / 5)
    assert report["pass@5"] == 1.0 and report["pass@1"] == pytest.approx(0.4)
    keys = [task.answer_key(problem, a) for a in answers]
    assert keys[0] == keys[1] == "23"
    assert report["maj@5"] == pytest.approx(brute_maj_at_k(keys, [True, True, False, False, False], 5))
    assert report["maj@5"] == 1.0
    assert list(report["by_difficulty"]) == ['{"n": 4}']
