"""Self-consistency (Wang et al. 2023): sample N completions and vote on their answers.

Answers are grouped by the task's `answer_key` (countdown: the expression's value), so different
ways of writing one answer vote together. Majority vote counts each completion once; weighted vote
(Uesato et al. 2022; "weighted best-of-N" in Snell et al. 2024) adds up verifier scores instead.
Completions without an answer do not vote; ties go to the answer that appeared first.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from arborlab.search.base import SearchContext, SearchResult
from arborlab.search.best_of_n import sample_n
from arborlab.search.budget import Budget
from arborlab.tasks import Problem, Task
from arborlab.text import extract_answer


def winner(keys: Sequence[str | None], weights: Sequence[float]) -> int:
    """The index of the first completion holding the answer with the most weight (keys None don't vote)."""
    totals: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for index, (key, weight) in enumerate(zip(keys, weights)):
        if key is not None:
            totals[key] += weight
            first.setdefault(key, index)
    if not totals:
        return 0
    best = max(totals, key=lambda key: (totals[key], -first[key]))
    return first[best]


def answer_keys(task: Task, problem: Problem, texts: Sequence[str]) -> list[str | None]:
    """The answer key of each completion, None when it has no answer."""
    answers = [extract_answer(text) for text in texts]
    return [None if answer is None else task.answer_key(problem, answer) for answer in answers]


def _search(context: SearchContext, problems: list[Problem], weighted: bool) -> list[SearchResult]:
    budgets = [Budget() for _ in problems]
    finished = sample_n(context, problems, budgets)
    # majority vote never calls the verifier: every completion's weight (and reported score) is 1
    scores = context.score(problems, finished, budgets) if weighted else [1.0] * len(finished)

    def choose(problem, texts, values):
        return winner(answer_keys(context.task, problem, texts), values if weighted else [1.0] * len(texts))

    return context.results(problems, finished, scores, budgets, choose)


def majority(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """Majority vote over N samples."""
    return _search(context, problems, weighted=False)


def weighted(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """Vote over N samples, each weighted by its aggregated verifier score."""
    return _search(context, problems, weighted=True)
