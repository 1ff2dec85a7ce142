"""Best-of-N: sample N completions per problem and keep the one the verifier scores highest."""

from __future__ import annotations

from arborlab.search.base import SearchContext, SearchResult, best_scoring
from arborlab.search.budget import Budget
from arborlab.tasks import Problem


def sample_n(context: SearchContext, problems: list[Problem], budgets: list[Budget]):
    """N completions per problem at the config's temperature, all problems batched together."""
    roots = context.policy.roots(context.task, problems)
    starts = [root for root in roots for _ in range(context.config.budget)]
    return context.policy.complete(starts, budgets, context.config.temperature, context.config.seed)


def search(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """Best-of-N by verifier score (with the oracle: a correct sample whenever there is one)."""
    budgets = [Budget() for _ in problems]
    finished = sample_n(context, problems, budgets)
    return context.results(problems, finished, context.score(problems, finished, budgets), budgets, best_scoring)
