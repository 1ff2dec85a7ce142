"""Greedy decoding: one completion per problem at temperature 0, the baseline of every comparison."""

from __future__ import annotations

from arborlab.search.base import SearchContext, SearchResult, best_scoring
from arborlab.search.budget import Budget
from arborlab.tasks import Problem


def search(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """One greedy completion per problem (the budget is ignored), scored by the verifier."""
    budgets = [Budget() for _ in problems]
    finished = context.policy.complete(context.policy.roots(context.task, problems), budgets, 0.0, context.config.seed)
    return context.results(problems, finished, context.score(problems, finished, budgets), budgets, best_scoring)
