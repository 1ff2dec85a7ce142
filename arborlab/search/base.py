"""What every search strategy shares: its settings, its result, and the context it runs in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from arborlab.errors import ArborError
from arborlab.search.budget import Budget
from arborlab.search.steps import Policy, Trace
from arborlab.search.verifiers import aggregate
from arborlab.tasks import Problem, Task


@dataclass
class SearchConfig:
    """Settings of a search; `budget` (N) means samples (best-of-N, votes), beams (beam, DVTS) or
    simulations (MCTS) per problem."""

    budget: int = 4
    aggregate: str = "last"
    temperature: float = 1.0
    beam_width: int = 4  # M: children of each kept beam (beam search), or per subtree step (DVTS)
    max_rounds: int = 32  # step rounds at most before the open beams are written to the end
    exploration: float = 1.0  # MCTS: the UCT constant c
    branching: int = 3  # MCTS: children a node gets before selection descends past it
    parallel: int = 4  # MCTS: leaves per problem expanded together in one round
    seed: int = 0

    def check(self) -> None:
        for name in ("budget", "beam_width", "max_rounds", "branching", "parallel"):
            if getattr(self, name) < 1:
                raise ArborError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}.")
        if self.temperature < 0:
            raise ArborError(f"--temperature must be 0 (greedy) or positive, got {self.temperature}.")
        aggregate([], self.aggregate)  # rejects an unknown aggregate


@dataclass
class SearchResult:
    """A strategy's answer to one problem.

    completion: the chosen completion text. score: its aggregated verifier score (1 for every
    completion in a majority vote, which never calls the verifier). candidates: the finished
    completions the strategy chose from, with their scores. budget: what it cost.
    """

    completion: str
    score: float
    candidates: list[str] = field(default_factory=list)
    candidate_scores: list[float] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)


@dataclass
class SearchContext:
    """The policy, verifier and task a strategy searches with, under one config."""

    policy: Policy
    verifier: object  # OracleVerifier or LearnedVerifier
    task: Task
    config: SearchConfig

    def score(self, problems: Sequence[Problem], traces: Sequence[Trace], budgets: list[Budget]) -> list[float]:
        """The aggregated verifier score of each trace (partial or finished); equal traces (samples
        that wrote the same line) are scored once."""
        distinct = list(dict.fromkeys(traces))  # Trace is frozen, so equal traces hash alike
        per_step = self.verifier.scores(
            [problems[t.owner] for t in distinct], self.policy.texts(distinct), [t.done for t in distinct],
            [budgets[t.owner] for t in distinct],
        ) if distinct else []
        score_of = {trace: aggregate(scores, self.config.aggregate) for trace, scores in zip(distinct, per_step)}
        return [score_of[trace] for trace in traces]

    def results(self, problems: Sequence[Problem], finished: Sequence[Trace], scores: Sequence[float],
                budgets: list[Budget], choose) -> list[SearchResult]:
        """One result per problem from its finished traces; `choose(texts, scores)` picks the index."""
        per_problem: list[list[tuple[str, float]]] = [[] for _ in problems]
        for trace, text, score in zip(finished, self.policy.texts(finished), scores):
            per_problem[trace.owner].append((text, score))
        results = []
        for owner, pairs in enumerate(per_problem):
            texts, values = [t for t, _ in pairs], [s for _, s in pairs]
            best = choose(problems[owner], texts, values)
            results.append(SearchResult(texts[best], values[best], texts, values, budgets[owner]))
        return results


def best_scoring(problem: Problem, texts: Sequence[str], scores: Sequence[float]) -> int:
    """The index of the highest score (the first one on ties)."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))
