"""MCTS converges to the known optimal value of a small stochastic tree, and runs on the toy policy."""

import random

import pytest

from arborlab.search import Policy, SearchConfig, SearchContext
from arborlab.search.mcts import Node, run_mcts, search
from arborlab.search.verifiers import OracleVerifier

DEPTH, BRANCHING = 3, 3


class BernoulliTree:
    """A depth-3, 3-ary tree; leaf `path` pays 1 with probability p[path], else 0.

    States are paths (tuples of child indices). Children are revealed in order; a rollout from a
    partial path follows uniformly random children to a leaf.
    """

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        paths = [(a, b, c) for a in range(3) for b in range(3) for c in range(3)]
        self.p = {path: self.rng.uniform(0.1, 0.6) for path in paths}
        self.best = paths[self.rng.randrange(len(paths))]
        self.p[self.best] = 0.9
        self.revealed: dict[tuple, int] = {}

    def expand(self, states):
        children = []
        for state in states:
            index = self.revealed.get(state, 0) % BRANCHING
            self.revealed[state] = index + 1
            child = state + (index,)
            children.append((child, child, len(child) == DEPTH))
        return children

    def evaluate(self, states):
        rewards = []
        for state in states:
            leaf = state + tuple(self.rng.randrange(BRANCHING) for _ in range(DEPTH - len(state)))
            rewards.append(float(self.rng.random() < self.p[leaf]))
        return rewards


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcts_value_converges_to_the_optimal_value(seed):
    tree = BernoulliTree(seed)
    root = run_mcts([Node(())], tree, simulations=20_000, branching=BRANCHING, exploration=1.0, parallel=4)[0]
    assert root.visits == 20_000 and root.pending == 0
    node = root
    while node.children:  # follow the most visited child
        node = max(node.children.values(), key=lambda child: child.visits)
    assert node.state == tree.best
    assert abs(node.value - 0.9) < 0.03
    assert abs(root.value - 0.9) < 0.03  # the root mean converges to the optimal value


def test_mcts_on_the_toy_policy_runs_budget_simulations_per_problem(toy):
    model, tokenizer, task, problems = toy
    context = SearchContext(Policy(model, tokenizer, max_new_tokens=60), OracleVerifier(task), task,
                            SearchConfig(budget=8, branching=2, parallel=4, seed=4))
    results = search(context, problems)
    for problem, result in zip(problems, results):
        assert len(result.candidates) == 8  # one rollout (or finished leaf) per simulation
        assert result.score == max(result.candidate_scores)
        assert result.score == float(task.verify(problem, result.completion).correct)
