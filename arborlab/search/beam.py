"""Beam search over steps, guided by a verifier (Snell et al. 2024, section 5.1).

With budget N and beam width M: sample N first steps, keep the N/M the verifier scores highest,
expand each of them M times with one more step, and repeat. A beam that writes its answer leaves
the search; the search stops once N beams have answered (or after `max_rounds` rounds, when the
open beams are written to the end), and the best-scoring answered beam is the answer.

`step_search` is written for several independent subtrees per problem, so DVTS (`dvts.py`) is
the same loop with N/M subtrees that each keep one beam. Every round expands the beams of all
subtrees of all problems in one batched policy call.
"""

from __future__ import annotations

from collections import defaultdict

from arborlab.search.base import SearchContext, SearchResult, best_scoring
from arborlab.search.budget import Budget
from arborlab.tasks import Problem


def effective_width(context: SearchContext) -> int:
    """M: the beam width, never more than the budget N."""
    return min(context.config.beam_width, context.config.budget)


def step_search(context: SearchContext, problems: list[Problem], subtrees: int, keep: int) -> list[SearchResult]:
    """Step-level beam search with `subtrees` independent searches per problem, each keeping `keep` beams.

    Each kept beam gets M children a round; a subtree stops once keep * M of its beams have answered.
    """
    config, policy = context.config, context.policy
    width = effective_width(context)
    budgets = [Budget() for _ in problems]
    # (subtree id, trace); a subtree id is (problem, index)
    active = [((root.owner, s), root) for root in policy.roots(context.task, problems) for s in range(subtrees) for _ in range(keep)]
    answered: dict[tuple[int, int], int] = defaultdict(int)
    finished, finished_scores = [], []
    for round_ in range(config.max_rounds):
        if not active:
            break
        groups = [group for group, _ in active for _ in range(width)]
        children = policy.step([trace for _, trace in active for _ in range(width)], budgets, config.temperature,
                               config.seed + 104_729 * round_)
        scores = context.score(problems, children, budgets)
        open_by_group: dict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
        for index, (group, child, score) in enumerate(zip(groups, children, scores)):
            if child.done:
                finished.append(child)
                finished_scores.append(score)
                answered[group] += 1
            else:
                open_by_group[group].append((score, index))
        active = []
        for group, ranked in open_by_group.items():
            if answered[group] < keep * width:
                ranked.sort(key=lambda pair: (-pair[0], pair[1]))
                active += [(group, children[index]) for _, index in ranked[:keep]]
    leftovers = policy.complete([trace for _, trace in active], budgets, config.temperature, config.seed - 1)
    finished += leftovers
    finished_scores += context.score(problems, leftovers, budgets)
    return context.results(problems, finished, finished_scores, budgets, best_scoring)


def search(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """Beam search with N = budget beams, keeping N / M each round (M = beam width, at most N)."""
    return step_search(context, problems, subtrees=1, keep=context.config.budget // effective_width(context))
