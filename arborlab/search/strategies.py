"""The strategies by the names ``arbor search --strategy`` takes."""

from __future__ import annotations

from arborlab.search import beam, best_of_n, dvts, greedy, mcts, voting

STRATEGIES = {
    "greedy": greedy.search,
    "best-of-n": best_of_n.search,
    "vote": voting.majority,
    "weighted-vote": voting.weighted,
    "beam": beam.search,
    "dvts": dvts.search,
    "mcts": mcts.search,
}
