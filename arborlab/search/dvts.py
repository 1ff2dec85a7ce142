"""Diverse verifier tree search (DVTS; Beeching, Tunstall and Rush 2024, "Scaling test-time compute").

Beam search whose N beams are split into N/M independent subtrees: each subtree expands its one
beam M times a round and keeps the child the verifier scores highest. Independent subtrees keep
the search from collapsing onto one high-scoring prefix, which helps at large N. The answer is the
best-scoring answered beam over all subtrees.
"""

from __future__ import annotations

from arborlab.search.base import SearchContext, SearchResult
from arborlab.search.beam import effective_width, step_search
from arborlab.tasks import Problem


def search(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """DVTS with N / M subtrees of M children a round (M = beam width, at most N)."""
    return step_search(context, problems, subtrees=context.config.budget // effective_width(context), keep=1)
