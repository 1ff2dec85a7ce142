"""Monte Carlo tree search over steps (UCT; Kocsis and Szepesvári 2006), batched over leaves and problems.

`run_mcts` is the search itself, over any `Environment`: a node is a state, `expand` samples one
child state of each given state, `evaluate` returns a reward in [0, 1] for each (a rollout from a
partial state, the outcome of a finished one). Each simulation selects a path by UCT,
``mean + c * sqrt(ln N_parent / n_child)``, until it reaches a node with fewer than `branching`
expansion tries (or a finished one), expands it by one sampled child (a child equal to one it
already has is that child), evaluates the child and adds the reward to every node on the path.

To batch, each round selects up to `parallel` leaves per tree with a virtual loss (a leaf being
evaluated counts as a visit with reward 0 until its reward arrives), so the leaves of one tree
differ; the leaves of all trees are expanded in one `expand` call and evaluated in one `evaluate`.

`search` plugs in the policy: states are traces, a child is one more step, and a leaf's reward is
the verifier's aggregated score of one rollout written from it to the end (or of the finished
trace itself). The budget N is the number of simulations, and the answer is the best-scoring
finished completion seen (rollouts included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Protocol, Sequence

from arborlab.search.base import SearchContext, SearchResult, best_scoring
from arborlab.search.budget import Budget
from arborlab.search.steps import Trace
from arborlab.tasks import Problem


class Environment(Protocol):
    """What MCTS searches. Instead of `expand`, an environment whose rollouts are samples that
    continue where an expansion ends may give ``expand_and_evaluate(states)``, one sampled child of
    each state and the reward of one rollout from that child, drawn in one pass:
    ``[(child state, key, finished, reward)]``. `evaluate` is still called on finished leaves."""

    def expand(self, states: Sequence) -> list[tuple[object, Hashable, bool]]:
        """One sampled child of each state: (child state, key that identifies equal children, finished)."""

    def evaluate(self, states: Sequence) -> list[float]:
        """A reward in [0, 1] for each state."""


@dataclass(eq=False)
class Node:
    """A tree node: its state, statistics, and children keyed by their identity."""

    state: object
    finished: bool = False
    parent: "Node | None" = None
    children: dict = field(default_factory=dict)
    tries: int = 0  # expansions attempted from this node
    visits: int = 0
    reward_sum: float = 0.0
    pending: int = 0  # selected this round, reward not yet backed up (virtual loss)

    @property
    def value(self) -> float:
        """The mean reward of the simulations through this node."""
        return self.reward_sum / self.visits if self.visits else 0.0

    def uct(self, exploration: float) -> float:
        count = self.visits + self.pending
        if count == 0:
            return math.inf
        parent_count = self.parent.visits + self.parent.pending
        return self.reward_sum / count + exploration * math.sqrt(math.log(max(parent_count, 1)) / count)


def select(root: Node, branching: int, exploration: float) -> Node:
    """Descend by UCT to the first node that is finished or has had fewer than `branching` tries."""
    node = root
    while not node.finished and node.tries >= branching and node.children:
        node = max(node.children.values(), key=lambda child: child.uct(exploration))
    return node


def _mark(node: Node, amount: int) -> None:
    while node is not None:
        node.pending += amount
        node = node.parent


def _backup(node: Node, reward: float) -> None:
    while node is not None:
        node.visits += 1
        node.reward_sum += reward
        node.pending -= 1
        node = node.parent


def run_mcts(roots: list[Node], environment: Environment, simulations: int, branching: int = 3,
             exploration: float = 1.0, parallel: int = 4) -> list[Node]:
    """Run `simulations` simulations on each tree, `parallel` per tree per round; returns the roots."""
    done = [0] * len(roots)
    while any(count < simulations for count in done):
        leaves: list[Node] = []
        for index, root in enumerate(roots):
            for _ in range(min(parallel, simulations - done[index])):
                leaf = select(root, branching, exploration)
                if not leaf.finished:
                    leaf.tries += 1
                _mark(leaf, 1)
                leaves.append(leaf)
                done[index] += 1
        growing = [leaf for leaf in leaves if not leaf.finished]
        grown = iter(_expand(environment, [leaf.state for leaf in growing]))
        evaluated, rewards = [], []
        for leaf in leaves:
            reward = None
            if not leaf.finished:
                state, key, finished, reward = next(grown)
                if key not in leaf.children:
                    leaf.children[key] = Node(state, finished, parent=leaf)
                leaf = leaf.children[key]
                leaf.pending += 1  # the selection's virtual visit now runs through the child too
            evaluated.append(leaf)
            rewards.append(reward)
        unscored = [i for i, reward in enumerate(rewards) if reward is None]
        for i, reward in zip(unscored, environment.evaluate([evaluated[i].state for i in unscored])):
            rewards[i] = reward
        for leaf, reward in zip(evaluated, rewards):
            _backup(leaf, reward)
    return roots


def _expand(environment: Environment, states: Sequence) -> list[tuple[object, Hashable, bool, float | None]]:
    """One child of each state, with the reward of a rollout from it when the environment draws both
    in one pass (`expand_and_evaluate`), else None (the child is evaluated afterwards)."""
    if hasattr(environment, "expand_and_evaluate"):
        return environment.expand_and_evaluate(states)
    return [(state, key, finished, None) for state, key, finished in environment.expand(states)]


class _PolicyEnvironment:
    """Traces of a policy: children are one more step, rewards are scored rollouts.

    A rollout from a new child is the same policy sampling on from where the child's step ends, so
    `expand_and_evaluate` samples each leaf's completion once and splits it after its first step:
    one sampler pass a round instead of a step pass and then a rollout pass.
    """

    def __init__(self, context: SearchContext, problems: list[Problem], budgets: list[Budget]):
        self.context, self.problems, self.budgets = context, problems, budgets
        self.finished: list[Trace] = []
        self.scores: list[float] = []
        self.round = 0

    def evaluate(self, states: Sequence[Trace]) -> list[float]:
        config = self.context.config
        written = self.context.policy.complete(states, self.budgets, config.temperature, config.seed - 7_919 * self.round)
        return self._scored(written)

    def expand_and_evaluate(self, states: Sequence[Trace]) -> list[tuple[Trace, tuple, bool, float]]:
        self.round += 1
        config = self.context.config
        pairs = self.context.policy.step_and_complete(states, self.budgets, config.temperature, config.seed + 7_919 * self.round)
        scores = self._scored([rollout for _, rollout in pairs])
        return [(child, child.ids, child.done, score) for (child, _), score in zip(pairs, scores)]

    def _scored(self, written: list[Trace]) -> list[float]:
        """The verifier's scores of finished completions, which join the candidates."""
        scores = self.context.score(self.problems, written, self.budgets)
        self.finished += written
        self.scores += scores
        return scores


def search(context: SearchContext, problems: list[Problem]) -> list[SearchResult]:
    """MCTS with N = budget simulations per problem; the answer is the best-scoring finished completion."""
    config = context.config
    budgets = [Budget() for _ in problems]
    environment = _PolicyEnvironment(context, problems, budgets)
    roots = [Node(root) for root in context.policy.roots(context.task, problems)]
    run_mcts(roots, environment, config.budget, config.branching, config.exploration, config.parallel)
    return context.results(problems, environment.finished, environment.scores, budgets, best_scoring)
