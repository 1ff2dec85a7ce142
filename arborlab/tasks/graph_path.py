"""Graph path: the shortest path between two nodes of a weighted graph given as an edge list.

A problem is ``{"n_nodes": 8, "edges": [[0, 1, 4], ...], "start": 0, "goal": 7, "directed": false}``.
The nodes are 0..n_nodes-1; each edge ``[u, v, w]`` has a positive integer weight w and joins u and
v both ways (``directed`` false; generated edges have u < v) or runs from u to v only (``directed``
true). There are no self loops and no duplicate edges, and start differs from goal. The prompt is::

    nodes 4 edges 0-1:4 0-2:1 1-2:2 1-3:5 start 0 goal 3        (directed edges read 0>1:4)

The answer is a path: node ids in ASCII decimal without leading zeros, separated by single spaces
(``0 2 1 3``). It is correct when it starts at start, ends at goal, follows edges and its total
weight is the shortest distance (exact integer Dijkstra); every shortest path is accepted. When
the goal cannot be reached from the start, the answer is ``no solution``.

Trace steps walk the graph from the start, each restating the length of the path walked so far
and the goal:

    0->2 dist 1, goal 3           move from the current node along an edge; dist is the new length
    back to 2 dist 1, goal 3      return to a node reached earlier in the trace at that dist

A state is the current node with the length of the path that reached it. With positive weights a
path is the start of some shortest path to the goal exactly when its length plus its node's
distance to the goal is the start's distance to the goal; this is the step checker's `solvable`.

Search traces make only improving moves: to a node by a path shorter than any found to it before
and than the best found to the goal. dfs goes deep first (neighbors in ascending id order), bfs
expands states first in first out, best-first expands the shortest open state first (ties by node
id; uniform-cost search). Each stops when no improving move is left, so the best path found to the
goal is a shortest one, and the trace ends on it (with ``back to`` when it was found earlier).
"""

from __future__ import annotations

import heapq
import random
import re
from collections import deque
from dataclasses import dataclass
from math import comb
from typing import Any, Iterator, Mapping

from arborlab.errors import ArborError
from arborlab.tasks.base import Knob, Problem, StepCheck, Task, Verdict, register
from arborlab.text import answer_text

MAX_NODES = 1000  # bounds on problems read from outside, so every distance fits in 18 digits
MAX_WEIGHT = 10**9
MAX_ANSWER_CHARS = 10_000
NUMBER = r"(0|[1-9][0-9]{0,17})"
MOVE_STEP = re.compile(rf"{NUMBER}->{NUMBER} dist {NUMBER}, goal {NUMBER}", re.ASCII)
BACK_STEP = re.compile(rf"back to {NUMBER} dist {NUMBER}, goal {NUMBER}", re.ASCII)
State = tuple[int, int]  # (node, length of the path that reached it)


# ---- the graph ---------------------------------------------------------------------------------


class Graph:
    """A problem's graph: ``out[u][v]`` and ``into[v][u]`` are the weight of the edge u->v."""

    def __init__(self, problem: Problem):
        n, directed = problem["n_nodes"], problem.get("directed", False)
        self.out: list[dict[int, int]] = [{} for _ in range(n)]
        self.into: list[dict[int, int]] = [{} for _ in range(n)]
        for u, v, w in problem["edges"]:
            self.out[u][v] = self.into[v][u] = w
            if not directed:
                self.out[v][u] = self.into[u][v] = w

    def path_length(self, path: list[int]) -> int:
        """The total weight of `path`; raises ValueError naming the first step that is no edge."""
        length = 0
        for u, v in zip(path, path[1:]):
            if v not in self.out[u]:
                raise ValueError(f"{u}->{v} is not an edge")
            length += self.out[u][v]
        return length


def distances(adjacency: list[dict[int, int]], source: int) -> list[int | None]:
    """Exact shortest distances from `source` along `adjacency` (Dijkstra); None where unreachable."""
    found: list[int | None] = [None] * len(adjacency)
    frontier = [(0, source)]
    while frontier:
        dist, node = heapq.heappop(frontier)
        if found[node] is not None:
            continue
        found[node] = dist
        for neighbor, weight in adjacency[node].items():
            if found[neighbor] is None:
                heapq.heappush(frontier, (dist + weight, neighbor))
    return found


def fewest_hops_shortest_path(graph: Graph, start: int, goal: int) -> list[int] | None:
    """A shortest start->goal path with the fewest edges among them (breadth-first over the edges
    that lie on shortest paths, neighbors in ascending order); None when the goal is unreachable."""
    from_start, to_goal = distances(graph.out, start), distances(graph.into, goal)
    shortest = from_start[goal]
    if shortest is None:
        return None
    parent = {start: start}
    queue = deque([start])
    while goal not in parent:
        node = queue.popleft()
        for neighbor, weight in sorted(graph.out[node].items()):
            tight = to_goal[neighbor] is not None and from_start[node] + weight + to_goal[neighbor] == shortest
            if tight and neighbor not in parent:
                parent[neighbor] = node
                queue.append(neighbor)
    path = [goal]
    while path[-1] != start:
        path.append(parent[path[-1]])
    return path[::-1]


def on_shortest_path(state: State, shortest: int | None, to_goal: list[int | None]) -> bool:
    """Whether a path reaching `state` is the start of a shortest path to the goal (of length `shortest`).

    The path's length is at least its node's distance from the start, so when it plus the node's
    distance to the goal equals `shortest`, the path is itself a shortest path to its node.
    """
    node, dist = state
    return shortest is not None and to_goal[node] is not None and dist + to_goal[node] == shortest


# ---- answers -----------------------------------------------------------------------------------


def parse_path(text: str, n_nodes: int) -> list[int]:
    """The node ids of an answer; raises ValueError saying why the text is not a path."""
    if not text:
        raise ValueError("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise ValueError(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    path = []
    for token in text.split(" "):
        if not token:
            raise ValueError("node ids must be separated by single spaces")
        if not (token.isascii() and token.isdigit()):
            raise ValueError(f"the answer must be node ids separated by single spaces, but it contains {_shown(token)}")
        if token[0] == "0" and len(token) > 1:
            raise ValueError(f"node id {_shown(token)} has a leading zero")
        if len(token) > len(str(n_nodes - 1)) or int(token) >= n_nodes:
            raise ValueError(f"the answer names node {_shown(token)}, but the nodes are 0 to {n_nodes - 1}")
        path.append(int(token))
    return path


def _shown(token: str) -> str:
    """`token` quoted for a reason, cut short when long."""
    return repr(token) if len(token) <= 20 else repr(token[:20] + "...")


# ---- steps -------------------------------------------------------------------------------------


def _replay(step: str, state: State, graph: Graph, goal: int, reached: set[State]) -> tuple[State | None, str]:
    """The state after `step`, with a reason; (None, why) when the step is not valid."""
    if match := MOVE_STEP.fullmatch(step):
        origin, target, said_dist, said_goal = map(int, match.groups())
        if said_goal != goal:
            return None, f"the step restates the goal as {said_goal}, but it is {goal}"
        node, dist = state
        if origin != node:
            return None, f"the step moves from {origin}, but the current node is {node}"
        weight = graph.out[node].get(target)
        if weight is None:
            return None, f"{origin}->{target} is not an edge"
        if said_dist != dist + weight:
            return None, f"the path to {target} has length {dist}+{weight}={dist + weight}, not {said_dist}"
        return (target, said_dist), f"{origin}->{target} is an edge of weight {weight}"
    if match := BACK_STEP.fullmatch(step):
        node, said_dist, said_goal = map(int, match.groups())
        if said_goal != goal:
            return None, f"the step restates the goal as {said_goal}, but it is {goal}"
        if (node, said_dist) not in reached:
            return None, f"node {node} was not reached at dist {said_dist} earlier in the trace"
        return (node, said_dist), "returns to a node reached earlier"
    return None, "the step is neither 'U->V dist D, goal G' nor 'back to U dist D, goal G'"


@dataclass(frozen=True, eq=False)
class _Visit:
    """A search state: a node reached at `dist` by the path through `parent`."""

    node: int
    dist: int
    parent: "_Visit | None"

    def path(self) -> list[int]:
        """The nodes from the start to this one."""
        visit, nodes = self, []
        while visit is not None:
            nodes.append(visit.node)
            visit = visit.parent
        return nodes[::-1]


class _Walk:
    """Writes a search's steps: each move, preceded by ``back to`` when it leaves another state."""

    def __init__(self, start: int, goal: int):
        self.goal = goal
        self.root = self.current = _Visit(start, 0, None)
        self.steps: list[str] = []

    def move(self, origin: _Visit, node: int, weight: int) -> _Visit:
        self.go_back_to(origin)
        self.current = _Visit(node, origin.dist + weight, origin)
        self.steps.append(f"{origin.node}->{node} dist {self.current.dist}, goal {self.goal}")
        return self.current

    def go_back_to(self, visit: _Visit) -> None:
        if (self.current.node, self.current.dist) != (visit.node, visit.dist):
            self.steps.append(f"back to {visit.node} dist {visit.dist}, goal {self.goal}")
            self.current = visit


def _improves(best: dict[int, _Visit], node: int, dist: int, goal: int) -> bool:
    """Whether reaching `node` at `dist` beats every path to it found so far, and the best to the goal."""
    return (node not in best or dist < best[node].dist) and (goal not in best or dist < best[goal].dist)


def _depth_first(graph: Graph, walk: _Walk, best: dict[int, _Visit]) -> None:
    """Go deep along improving moves, neighbors in ascending order, backing up when none is left."""
    stack = [(walk.root, iter(sorted(graph.out[walk.root.node].items())))]
    while stack:
        visit, neighbors = stack[-1]
        for node, weight in neighbors:
            if _improves(best, node, visit.dist + weight, walk.goal):
                best[node] = walk.move(visit, node, weight)
                stack.append((best[node], iter(sorted(graph.out[node].items()))))
                break
        else:
            stack.pop()


class _Frontier:
    """Open states: first in first out (bfs), or shortest first with ties by node id (best-first)."""

    def __init__(self, shortest_first: bool):
        self.shortest_first = shortest_first
        self.entries: deque[_Visit] | list[tuple[int, int, int, _Visit]] = [] if shortest_first else deque()
        self.opened = 0

    def __bool__(self) -> bool:
        return bool(self.entries)

    def push(self, visit: _Visit) -> None:
        if self.shortest_first:
            heapq.heappush(self.entries, (visit.dist, visit.node, self.opened, visit))
        else:
            self.entries.append(visit)
        self.opened += 1

    def pop(self) -> _Visit:
        return heapq.heappop(self.entries)[-1] if self.shortest_first else self.entries.popleft()


def _frontier_search(graph: Graph, walk: _Walk, best: dict[int, _Visit], shortest_first: bool) -> None:
    """Expand open states in the frontier's order, making every improving move from each."""
    frontier = _Frontier(shortest_first)
    frontier.push(walk.root)
    while frontier:
        visit = frontier.pop()
        if best[visit.node] is not visit:
            continue  # superseded by a shorter path to the same node
        for node, weight in sorted(graph.out[visit.node].items()):
            if _improves(best, node, visit.dist + weight, walk.goal):
                best[node] = walk.move(visit, node, weight)
                frontier.push(best[node])


def search_steps(graph: Graph, start: int, goal: int, order: str) -> tuple[list[str], list[int] | None]:
    """A search's steps and the shortest path it ends at, or None when it exhausts the graph.

    Every order makes only improving moves (shorter than any path found so far to that node, and
    than the best path found to the goal), so the best path to the goal when the search stops is a
    shortest one (a label-correcting search); the trace ends by returning to it.
    """
    walk = _Walk(start, goal)
    best = {start: walk.root}
    if order == "dfs":
        _depth_first(graph, walk, best)
    else:
        _frontier_search(graph, walk, best, shortest_first=order == "best-first")
    if goal not in best:
        return walk.steps, None
    walk.go_back_to(best[goal])
    return walk.steps, best[goal].path()


# ---- generation --------------------------------------------------------------------------------


def _random_tree(rng: random.Random, nodes: list[int]) -> list[tuple[int, int]]:
    """A random spanning tree of `nodes` as (parent, child) pairs leading away from ``nodes[0]``:
    the edges by which a random walk over `nodes` first enters each node (Aldous-Broder)."""
    current, seen, pairs = nodes[0], {nodes[0]}, []
    while len(seen) < len(nodes):
        step = rng.choice(nodes)
        if step not in seen:
            seen.add(step)
            pairs.append((current, step))
        current = step
    return pairs


def _allowed_pairs(n_nodes: int, directed: bool, start_side: set[int] | None) -> Iterator[tuple[int, int]]:
    """Every (u, v) an edge may join (u < v when undirected); with a `start_side`, none that leads
    from it to the other side, so the other side cannot be reached from the start."""
    for u in range(n_nodes):
        for v in range(n_nodes):
            if u == v or (u > v and not directed):
                continue
            if start_side is not None and u in start_side and v not in start_side:
                continue
            if start_side is not None and not directed and v in start_side and u not in start_side:
                continue
            yield u, v


def _capacity(n_nodes: int, directed: bool, start_side_size: int | None = None) -> int:
    """How many edges fit: in any graph, or in one whose start side has `start_side_size` nodes."""
    if start_side_size is None:
        return n_nodes * (n_nodes - 1) // (1 if directed else 2)
    other = n_nodes - start_side_size
    if directed:
        return n_nodes * (n_nodes - 1) - start_side_size * other
    return comb(start_side_size, 2) + comb(other, 2)


def _edge_list(rng: random.Random, pairs: list[tuple[int, int]], directed: bool, max_weight: int) -> list[list[int]]:
    """Sorted ``[u, v, w]`` edges with random weights (u < v when undirected)."""
    if not directed:
        pairs = [(min(u, v), max(u, v)) for u, v in pairs]
    return [[u, v, rng.randint(1, max_weight)] for u, v in sorted(pairs)]


# ---- the task ----------------------------------------------------------------------------------


@register
class GraphPath(Task):
    """Find a shortest path between two nodes of a weighted graph."""

    name = "graph-path"
    summary = "Find a shortest path from start to goal in a random weighted graph given as an edge list."
    knobs = (
        Knob("n_nodes", 8, "how many nodes the graph has", low=3, high=50),
        Knob("extra_edges", 4, "edges beyond the n_nodes-1 of a spanning tree", low=0, high=49 * 49),
        Knob("max_weight", 9, "largest edge weight (the smallest is 1; 1 is unweighted)", low=1, high=1000),
        Knob("directed", False, "edges run one way only"),
    )

    def check_difficulty(self, difficulty: Mapping[str, Any]) -> None:
        n, extra, directed = difficulty["n_nodes"], difficulty["extra_edges"], difficulty["directed"]
        room = _capacity(n, directed) - (n - 1)
        if extra > room:
            kind = "a directed" if directed else "an undirected"
            raise ArborError(
                f"difficulty knob 'extra_edges' must be at most {room} for {kind} graph with {n} nodes "
                f"(it has room for {room} edges beyond a spanning tree), got {extra}."
            )

    def generate(self, rng: random.Random, difficulty: Mapping[str, Any], solvable: bool = True) -> Problem:
        """Random spanning trees plus random extra edges, n_nodes-1+extra_edges edges in all.

        Solvable: one tree over all nodes, grown from the start (so every node is reachable).
        Unsolvable: the nodes split at random into the start's side and the goal's side, each with
        its own tree, and no edge leading from the start's side to the goal's.
        """
        n, directed = difficulty["n_nodes"], difficulty["directed"]
        n_edges = n - 1 + difficulty["extra_edges"]
        nodes = list(range(n))
        rng.shuffle(nodes)
        if solvable:
            sides, start_side = [nodes], None
            start, goal = nodes[0], rng.choice(nodes[1:])
        else:
            size = rng.choice(self._unsolvable_sizes(n, n_edges, directed))
            sides, start_side = [nodes[:size], nodes[size:]], set(nodes[:size])
            start, goal = nodes[0], nodes[size]
        tree = [pair for side in sides for pair in _random_tree(rng, side)]
        taken = set(tree) | {(v, u) for u, v in tree if not directed}
        others = [pair for pair in _allowed_pairs(n, directed, start_side) if pair not in taken]
        pairs = tree + rng.sample(others, n_edges - len(tree))
        edges = _edge_list(rng, pairs, directed, difficulty["max_weight"])
        return {"n_nodes": n, "edges": edges, "start": start, "goal": goal, "directed": directed}

    @staticmethod
    def _unsolvable_sizes(n_nodes: int, n_edges: int, directed: bool) -> list[int]:
        """The sizes the start's side may have so that `n_edges` edges fit; an ArborError if none."""
        sizes = [size for size in range(1, n_nodes) if _capacity(n_nodes, directed, size) >= n_edges]
        if not sizes:
            most = max(_capacity(n_nodes, directed, size) for size in range(1, n_nodes))
            raise ArborError(
                f"no unsolvable graph-path problem has {n_edges} edges on {n_nodes} nodes (a graph whose goal "
                f"is unreachable holds at most {most}); lower 'extra_edges' or raise 'n_nodes'."
            )
        return sizes

    def validate_problem(self, problem: Mapping[str, Any]) -> Problem:
        if not isinstance(problem, Mapping):
            raise ArborError("a graph-path problem must be a JSON object with 'n_nodes', 'edges', 'start' and 'goal'.")
        n, directed = problem.get("n_nodes"), problem.get("directed", False)
        if type(n) is not int or not 2 <= n <= MAX_NODES:
            raise ArborError(f"graph-path field 'n_nodes' must be an integer from 2 to {MAX_NODES}.")
        if not isinstance(directed, bool):
            raise ArborError("graph-path field 'directed' must be true or false.")
        edges = self._validate_edges(problem.get("edges"), n, directed)
        for field in ("start", "goal"):
            if type(problem.get(field)) is not int or not 0 <= problem[field] < n:
                raise ArborError(f"graph-path field '{field}' must be a node id from 0 to {n - 1}.")
        if problem["start"] == problem["goal"]:
            raise ArborError("graph-path field 'goal' must differ from 'start'.")
        return {"n_nodes": n, "edges": edges, "start": problem["start"], "goal": problem["goal"], "directed": directed}

    @staticmethod
    def _validate_edges(edges: Any, n_nodes: int, directed: bool) -> list[list[int]]:
        bad = ArborError(
            f"graph-path field 'edges' must be a list of [u, v, w] with distinct node ids u, v from 0 to "
            f"{n_nodes - 1} and an integer weight w from 1 to {MAX_WEIGHT}."
        )
        if not isinstance(edges, list):
            raise bad
        seen = set()
        for edge in edges:
            if not isinstance(edge, (list, tuple)) or len(edge) != 3 or not all(type(x) is int for x in edge):
                raise bad
            u, v, w = edge
            if not (0 <= u < n_nodes and 0 <= v < n_nodes and u != v and 1 <= w <= MAX_WEIGHT):
                raise bad
            key = (u, v) if directed else (min(u, v), max(u, v))
            if key in seen:
                raise ArborError(f"graph-path field 'edges' joins {u} and {v} twice.")
            seen.add(key)
        return [list(edge) for edge in edges]

    def canonical(self, problem: Problem) -> str:
        directed = problem.get("directed", False)
        edges = sorted(
            (u, v, w) if directed else (min(u, v), max(u, v), w) for u, v, w in problem["edges"]
        )
        kind = "directed" if directed else "undirected"
        listed = " ".join(f"{u}-{v}:{w}" for u, v, w in edges)
        return f"{problem['n_nodes']}|{kind}|{listed}|{problem['start']}|{problem['goal']}"

    def prompt(self, problem: Problem) -> str:
        joint = ">" if problem.get("directed", False) else "-"
        listed = " ".join(f"{u}{joint}{v}:{w}" for u, v, w in problem["edges"])
        return f"nodes {problem['n_nodes']} edges {listed} start {problem['start']} goal {problem['goal']}"

    def solve(self, problem: Problem) -> str | None:
        path = fewest_hops_shortest_path(Graph(problem), problem["start"], problem["goal"])
        return None if path is None else " ".join(map(str, path))

    def verify(self, problem: Problem, answer: str) -> Verdict:
        text = answer_text(answer)
        graph, start, goal = Graph(problem), problem["start"], problem["goal"]
        shortest = distances(graph.out, start)[goal]
        if text.lower() == self.no_solution:
            if shortest is None:
                return Verdict(True, "the goal cannot be reached from the start, as the answer says")
            return Verdict(False, f"the answer says no solution, but {self.solve(problem)} has length {shortest}")
        try:
            path = parse_path(text, problem["n_nodes"])
            length = graph.path_length(path)
        except ValueError as error:
            return Verdict(False, str(error))
        if path[0] != start:
            return Verdict(False, f"the path starts at {path[0]}, not at the start {start}")
        if path[-1] != goal:
            return Verdict(False, f"the path ends at {path[-1]}, not at the goal {goal}")
        if length != shortest:
            return Verdict(False, f"the path has length {length}, the shortest has length {shortest}")
        return Verdict(True, f"the path has length {length}, the shortest possible")

    def check_steps(self, problem: Problem, steps: list[str]) -> list[StepCheck]:
        """Replays move/back steps from the start; an invalid step leaves the state as it was."""
        graph, start, goal = Graph(problem), problem["start"], problem["goal"]
        shortest, to_goal = distances(graph.out, start)[goal], distances(graph.into, goal)
        state: State = (start, 0)
        reached = {state}
        checks = []
        for index, step in enumerate(steps):
            new_state, reason = _replay(step, state, graph, goal, reached)
            if new_state is None:
                checks.append(StepCheck(index, step, False, False, reason))
                continue
            state = new_state
            reached.add(state)
            solvable = on_shortest_path(state, shortest, to_goal)
            reason += "; the path so far starts a shortest path to the goal" if solvable else (
                "; the path so far starts no shortest path to the goal"
            )
            checks.append(StepCheck(index, step, True, solvable, reason))
        return checks

    def write_steps(self, problem: Problem, style: str, order: str, rng: random.Random) -> tuple[list[str], str]:
        """cot: the moves of a fewest-edge shortest path; search (and cot when the goal is unreachable):
        a label-correcting search in `order` that ends on a shortest path (see `search_steps`)."""
        graph, start, goal = Graph(problem), problem["start"], problem["goal"]
        if style == "cot" and (path := fewest_hops_shortest_path(graph, start, goal)) is not None:
            steps, dist = [], 0
            for u, v in zip(path, path[1:]):
                dist += graph.out[u][v]
                steps.append(f"{u}->{v} dist {dist}, goal {goal}")
            return steps, " ".join(map(str, path))
        steps, path = search_steps(graph, start, goal, order)
        return steps, self.no_solution if path is None else " ".join(map(str, path))
