"""graph-path's verifier, solver, step checker and writers against an independent brute force.

The references here enumerate every simple path between two nodes (so every shortest path is
known, not just one) and compute all distances with Floyd-Warshall; neither shares code with
arborlab's Dijkstra or its searches.
"""

import random

import pytest

from arborlab.errors import ArborError
from arborlab.tasks import get_task
from arborlab.text import split_steps

TASK = get_task("graph-path")


# ---- the brute-force reference -----------------------------------------------------------------


def weights(problem) -> dict:
    """{(u, v): w} for every way an edge can be walked."""
    table = {}
    for u, v, w in problem["edges"]:
        table[u, v] = w
        if not problem["directed"]:
            table[v, u] = w
    return table


def all_simple_paths(problem) -> dict:
    """{path tuple: length} for every simple start->goal path."""
    table, n = weights(problem), problem["n_nodes"]
    found = {}

    def extend(path, length):
        if path[-1] == problem["goal"]:
            found[tuple(path)] = length
            return
        for nxt in range(n):
            if nxt not in path and (path[-1], nxt) in table:
                extend(path + [nxt], length + table[path[-1], nxt])

    extend([problem["start"]], 0)
    return found


def shortest_paths(problem) -> tuple:
    """(the shortest length or None, the set of all shortest paths)."""
    paths = all_simple_paths(problem)
    if not paths:
        return None, set()
    best = min(paths.values())
    return best, {path for path, length in paths.items() if length == best}


def floyd_warshall(problem) -> list:
    n, table = problem["n_nodes"], weights(problem)
    dist = [[0 if i == j else table.get((i, j)) for j in range(n)] for i in range(n)]
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if dist[i][k] is not None and dist[k][j] is not None:
                    through = dist[i][k] + dist[k][j]
                    if dist[i][j] is None or through < dist[i][j]:
                        dist[i][j] = through
    return dist


def random_problem(rng, n=None, directed=None, max_weight=None, density=None):
    """A random small graph (any shape, connected or not) with a random start and goal."""
    n = n or rng.randint(2, 7)
    directed = rng.random() < 0.4 if directed is None else directed
    max_weight = max_weight or rng.choice([1, 2, 3, 9])
    density = rng.uniform(0.2, 0.9) if density is None else density
    pairs = [(u, v) for u in range(n) for v in range(n) if u != v and (directed or u < v)]
    edges = [[u, v, rng.randint(1, max_weight)] for u, v in pairs if rng.random() < density]
    rng.shuffle(edges)
    start, goal = rng.sample(range(n), 2)
    return TASK.validate_problem({"n_nodes": n, "edges": edges, "start": start, "goal": goal, "directed": directed})


def text(path) -> str:
    return " ".join(map(str, path))


# ---- answers -----------------------------------------------------------------------------------


def test_every_shortest_path_and_nothing_else_is_accepted():
    rng = random.Random(31)
    accepted = rejected = unsolvable = 0
    for _ in range(1500):
        problem = random_problem(rng)
        best, shortest = shortest_paths(problem)
        assert TASK.is_solvable(problem) == bool(shortest)
        assert TASK.verify(problem, "no solution").correct == (not shortest)
        if not shortest:
            unsolvable += 1
            assert TASK.solve(problem) is None
            continue
        assert tuple(map(int, TASK.solve(problem).split())) in shortest
        for path, length in all_simple_paths(problem).items():
            verdict = TASK.verify(problem, text(path))
            assert verdict.correct == (path in shortest), (problem, path, verdict)
            if path not in shortest:
                assert f"the path has length {length}, the shortest has length {best}" == verdict.reason
            accepted += verdict.correct
            rejected += not verdict.correct
    assert accepted > 1200 and rejected > 3000 and unsolvable > 100, (accepted, rejected, unsolvable)


def test_random_node_sequences_are_accepted_exactly_when_shortest():
    """Near-miss walks: repeated nodes, non-edges, wrong ends, detours, ids out of range."""
    rng = random.Random(32)
    hits = 0
    for _ in range(2000):
        problem = random_problem(rng)
        _, shortest = shortest_paths(problem)
        n = problem["n_nodes"]
        if shortest and rng.random() < 0.5:
            sequence = list(rng.choice(sorted(shortest)))
            cut = rng.randrange(len(sequence))
            sequence[cut:cut] = [rng.randrange(n + 1) for _ in range(rng.randint(0, 2))]  # a detour
        else:
            middle = [rng.randrange(n + (rng.random() < 0.1)) for _ in range(rng.randint(0, n))]
            sequence = [problem["start"]] * (rng.random() < 0.9) + middle + [problem["goal"]] * (rng.random() < 0.9)
        if not sequence:
            continue
        verdict = TASK.verify(problem, text(sequence))
        assert verdict.correct == (tuple(sequence) in shortest), (problem, sequence, verdict)
        assert verdict.reason
        hits += verdict.correct
    assert hits > 300


def test_a_path_that_repeats_a_node_is_not_shortest():
    rng = random.Random(33)
    checked = 0
    for _ in range(500):
        problem = random_problem(rng, directed=False)
        best, shortest = shortest_paths(problem)
        if not shortest:
            continue
        path = list(min(shortest))
        u = path[0]
        neighbor = next((v for (a, v) in weights(problem) if a == u), None)
        walk = [u, neighbor, u] + path[1:]
        longer = best + 2 * weights(problem)[u, neighbor]
        reason = TASK.verify(problem, text(walk)).reason
        assert reason == f"the path has length {longer}, the shortest has length {best}"
        checked += 1
    assert checked > 300


def test_unsolvable_problems_reject_every_path():
    rng = random.Random(34)
    checked = 0
    for _ in range(800):
        problem = random_problem(rng, density=0.25)
        if shortest_paths(problem)[1]:
            assert not TASK.verify(problem, "No Solution").correct
            continue
        checked += 1
        assert TASK.verify(problem, "<answer>no solution</answer>").correct
        assert not TASK.verify(problem, text([problem["start"], problem["goal"]])).correct
    assert checked > 150


SQUARE = {"n_nodes": 4, "edges": [[0, 1, 1], [1, 3, 5], [0, 2, 2], [2, 3, 1]], "start": 0, "goal": 3, "directed": False}

WRONG_ANSWERS = {
    "longer path": ("0 1 3", "the path has length 6, the shortest has length 3"),
    "not an edge": ("0 3", "0->3 is not an edge"),
    "wrong start": ("2 3", "starts at 2, not at the start 0"),
    "wrong end": ("0 2", "ends at 2, not at the goal 3"),
    "detour": ("0 2 0 2 3", "has length 7"),
    "dashes": ("0-2-3", "contains '0-2-3'"),
    "commas": ("0,2,3", "contains '0,2,3'"),
    "double space": ("0  2 3", "single spaces"),
    "tab": ("0\t2\t3", "contains"),
    "leading zero": ("0 02 3", "'02' has a leading zero"),
    "id out of range": ("0 2 4", "names node '4', but the nodes are 0 to 3"),
    "huge id": ("0 " + "9" * 5000, "names node '99999999999999999999...'"),
    "negative id": ("0 -2 3", "contains '-2'"),
    "full-width digits": ("０ ２ ３", "contains"),
    "arabic-indic digits": ("٠ ٢ ٣", "contains"),
    "superscript digit": ("0 ² 3", "contains"),
    "empty": ("", "empty"),
    "too long": ("0 " * 6000 + "3", "longer than"),
    "no solution claimed": ("no solution", "says no solution, but 0 2 3 has length 3"),
    "words": ("go from 0 to 3", "contains 'go'"),
}


@pytest.mark.parametrize("kind", sorted(WRONG_ANSWERS))
def test_wrong_answers_are_rejected_with_the_reason(kind):
    answer, reason = WRONG_ANSWERS[kind]
    verdict = TASK.verify(SQUARE, answer)
    assert verdict.correct is False
    assert reason in verdict.reason, verdict.reason


def test_direction_matters_when_directed():
    problem = dict(SQUARE, directed=True)
    assert TASK.verify(problem, "0 2 3").correct
    assert not TASK.verify(dict(problem, start=3, goal=0), "3 2 0").correct
    assert TASK.verify(dict(problem, start=3, goal=0), "no solution").correct


def test_answer_inside_tags_is_graded():
    assert TASK.verify(SQUARE, "<think>\n0->2 dist 2, goal 3\n</think><answer> 0 2 3 </answer>").correct


# ---- steps -------------------------------------------------------------------------------------


def is_prefix_of_shortest(path, shortest) -> bool:
    return any(candidate[: len(path)] == tuple(path) for candidate in shortest)


def _random_walk(rng, problem, n_steps):
    """Steps mixing moves, back-steps and corrupted lines, with the reference (valid, solvable)."""
    table, goal, n = weights(problem), problem["goal"], problem["n_nodes"]
    _, shortest = shortest_paths(problem)
    path, dist = [problem["start"]], 0
    reached = {(path[0], 0): list(path)}  # each (node, dist) with the first path that reached it
    steps, expected = [], []
    for _ in range(n_steps):
        kind = rng.random()
        node = path[-1]
        if kind < 0.2:
            back, back_dist = rng.choice(sorted(reached))
            if rng.random() < 0.3:
                back_dist += rng.randint(1, 3)
            steps.append(f"back to {back} dist {back_dist}, goal {goal}")
            if (back, back_dist) in reached:
                path, dist = list(reached[back, back_dist]), back_dist
                expected.append((True, is_prefix_of_shortest(path, shortest)))
            else:
                expected.append((False, False))
            continue
        target = rng.randrange(n)
        origin = node if rng.random() < 0.9 else rng.randrange(n)
        said_goal = goal if rng.random() < 0.95 else goal + 1
        valid = origin == node and (node, target) in table and said_goal == goal
        new_dist = dist + table.get((node, target), rng.randint(1, 3))
        if rng.random() < 0.15:
            new_dist += rng.choice([-1, 1]) if new_dist > 0 else 1
            valid = False
        steps.append(f"{origin}->{target} dist {new_dist}, goal {said_goal}")
        if valid:
            path, dist = path + [target], new_dist
            reached.setdefault((target, dist), list(path))
            expected.append((True, is_prefix_of_shortest(path, shortest)))
        else:
            expected.append((False, False))
    return steps, expected


def test_step_checker_matches_brute_force_on_random_walks():
    rng = random.Random(35)
    counts = {(True, True): 0, (True, False): 0, (False, False): 0}
    for _ in range(2500):
        problem = random_problem(rng)
        steps, expected = _random_walk(rng, problem, rng.randint(1, 8))
        checks = TASK.check_steps(problem, steps)
        assert [(c.valid, c.solvable) for c in checks] == expected, (problem, steps, checks)
        for flags in expected:
            counts[flags] += 1
    assert min(counts.values()) > 1500, counts


def test_walking_any_shortest_path_stays_solvable():
    rng = random.Random(36)
    for _ in range(500):
        problem = random_problem(rng)
        table = weights(problem)
        for path in shortest_paths(problem)[1]:
            steps, dist = [], 0
            for u, v in zip(path, path[1:]):
                dist += table[u, v]
                steps.append(f"{u}->{v} dist {dist}, goal {problem['goal']}")
            assert all(c.valid and c.solvable for c in TASK.check_steps(problem, steps))


@pytest.mark.parametrize(
    "step, reason",
    [
        ("0->2 dist 2, goal 1", "restates the goal as 1, but it is 3"),
        ("2->3 dist 1, goal 3", "moves from 2, but the current node is 0"),
        ("0->3 dist 4, goal 3", "0->3 is not an edge"),
        ("0->9 dist 4, goal 3", "0->9 is not an edge"),
        ("0->0 dist 0, goal 3", "0->0 is not an edge"),
        ("0->2 dist 3, goal 3", "has length 0+2=2, not 3"),
        ("back to 2 dist 2, goal 3", "not reached at dist 2"),
        ("back to 0 dist 0, goal 2", "restates the goal"),
        ("0 -> 2 dist 2, goal 3", "neither"),
        ("0->2 dist 02, goal 3", "neither"),
        ("0->2 dist -2, goal 3", "neither"),
        ("0->2 dist ２, goal 3", "neither"),
        ("0->2 dist 2 goal 3", "neither"),
        ("0->2 dist 2, goal 3.", "neither"),
        ("0->" + "9" * 30 + " dist 2, goal 3", "neither"),
        ("", "neither"),
    ],
)
def test_invalid_steps_say_why(step, reason):
    (check,) = TASK.check_steps(SQUARE, [step])
    assert not check.valid and not check.solvable and reason in check.reason, check.reason


def test_an_invalid_step_leaves_the_state_unchanged():
    checks = TASK.check_steps(SQUARE, ["0->1 dist 9, goal 3", "0->2 dist 2, goal 3", "2->3 dist 3, goal 3"])
    assert [(c.valid, c.solvable) for c in checks] == [(False, False), (True, True), (True, True)]


# ---- writers -----------------------------------------------------------------------------------


EXPECTED_SEARCHES = {
    "dfs": [
        "0->1 dist 1, goal 3",
        "1->3 dist 6, goal 3",
        "back to 0 dist 0, goal 3",
        "0->2 dist 2, goal 3",
        "2->3 dist 3, goal 3",
    ],
    "bfs": [
        "0->1 dist 1, goal 3",
        "back to 0 dist 0, goal 3",
        "0->2 dist 2, goal 3",
        "back to 1 dist 1, goal 3",
        "1->3 dist 6, goal 3",
        "back to 2 dist 2, goal 3",
        "2->3 dist 3, goal 3",
    ],
    "best-first": [
        "0->1 dist 1, goal 3",
        "back to 0 dist 0, goal 3",
        "0->2 dist 2, goal 3",
        "back to 1 dist 1, goal 3",
        "1->3 dist 6, goal 3",
        "back to 2 dist 2, goal 3",
        "2->3 dist 3, goal 3",
    ],
}


@pytest.mark.parametrize("order", sorted(EXPECTED_SEARCHES))
def test_search_does_not_stop_at_the_first_path_to_the_goal(order):
    trace = TASK.trace(SQUARE, "search", order)
    assert split_steps(trace) == EXPECTED_SEARCHES[order]
    assert trace.endswith("<answer>0 2 3</answer>")


KITE = {"n_nodes": 4, "edges": [[0, 1, 5], [0, 2, 1], [1, 3, 1], [2, 3, 9]], "start": 0, "goal": 3, "directed": False}


@pytest.mark.parametrize(
    "order, steps",
    [
        ("dfs", ["0->1 dist 5", "1->3 dist 6", "back to 0 dist 0", "0->2 dist 1", "back to 3 dist 6"]),
        ("bfs", ["0->1 dist 5", "back to 0 dist 0", "0->2 dist 1", "back to 1 dist 5", "1->3 dist 6"]),
        ("best-first", ["0->1 dist 5", "back to 0 dist 0", "0->2 dist 1", "2->3 dist 10", "back to 1 dist 5",
                        "1->3 dist 6"]),
    ],
)
def test_each_order_expands_in_its_own_order(order, steps):
    assert split_steps(TASK.trace(KITE, "search", order)) == [f"{step}, goal 3" for step in steps]


def test_best_first_returns_to_the_goal_when_it_was_reached_before_other_moves():
    problem = {"n_nodes": 4, "edges": [[0, 3, 3], [0, 1, 1], [1, 2, 1]], "start": 0, "goal": 3, "directed": False}
    assert split_steps(TASK.trace(problem, "search", "best-first")) == [
        "0->1 dist 1, goal 3",
        "back to 0 dist 0, goal 3",
        "0->3 dist 3, goal 3",
        "back to 1 dist 1, goal 3",
        "1->2 dist 2, goal 3",
        "back to 3 dist 3, goal 3",
    ]


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"directed": True},
        {"n_nodes": 5, "extra_edges": 2, "max_weight": 1},
        {"n_nodes": 12, "extra_edges": 20, "max_weight": 3, "directed": True},
        {"n_nodes": 20, "extra_edges": 10, "max_weight": 1000},
    ],
)
def test_traces_end_on_a_shortest_path(knobs):
    for solvable in (True, False):
        for problem in TASK.problems(60, seed=37, difficulty=knobs, solvable=solvable):
            dist = floyd_warshall(problem)
            shortest = dist[problem["start"]][problem["goal"]]
            assert (shortest is not None) == solvable
            for style, order in [("cot", "dfs"), ("search", "dfs"), ("search", "bfs"), ("search", "best-first")]:
                trace = TASK.trace(problem, style, order)
                assert TASK.verify(problem, trace).correct, trace
                checks = TASK.check_steps(problem, split_steps(trace))
                assert all(c.valid for c in checks), trace
                if solvable:
                    assert checks[-1].solvable and checks[-1].step.endswith(
                        f"{problem['goal']} dist {shortest}, goal {problem['goal']}"
                    ), trace


def test_bfs_drops_a_state_when_a_shorter_path_reaches_its_node():
    edges = [[0, 1, 1], [0, 2, 5], [1, 2, 1], [2, 3, 1]]
    problem = {"n_nodes": 4, "edges": edges, "start": 0, "goal": 3, "directed": False}
    assert split_steps(TASK.trace(problem, "search", "bfs")) == [
        "0->1 dist 1, goal 3",
        "back to 0 dist 0, goal 3",
        "0->2 dist 5, goal 3",
        "back to 1 dist 1, goal 3",
        "1->2 dist 2, goal 3",
        "2->3 dist 3, goal 3",
    ]


def test_cot_prefers_fewer_edges_among_shortest_paths():
    problem = {"n_nodes": 6, "edges": [[0, 1, 1], [1, 5, 2], [0, 2, 1], [2, 3, 1], [3, 5, 1]], "start": 0, "goal": 5,
               "directed": False}
    assert split_steps(TASK.trace(problem, "cot")) == ["0->1 dist 1, goal 5", "1->5 dist 3, goal 5"]


def test_cot_walks_a_shortest_path_with_the_fewest_edges():
    rng = random.Random(38)
    for _ in range(1500):
        problem = random_problem(rng, max_weight=rng.choice([1, 2, 3]))
        _, shortest = shortest_paths(problem)
        if not shortest:
            continue
        steps = split_steps(TASK.trace(problem, "cot"))
        assert len(steps) == min(len(path) for path in shortest) - 1


def test_search_on_unsolvable_problems_moves_to_every_node_it_can_reach():
    for problem in TASK.problems(40, seed=39, difficulty={"n_nodes": 10, "extra_edges": 6}, solvable=False):
        reachable = {j for j, d in enumerate(floyd_warshall(problem)[problem["start"]]) if d is not None}
        for order in TASK.search_orders:
            steps = split_steps(TASK.trace(problem, "search", order))
            moved_to = {int(step.split("->")[1].split()[0]) for step in steps if "->" in step}
            assert moved_to | {problem["start"]} == reachable
            assert TASK.trace(problem, "search", order).endswith("<answer>no solution</answer>")


# ---- generation and knobs ----------------------------------------------------------------------


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("solvable", [True, False])
def test_generated_problems_respect_the_knobs(directed, solvable):
    knobs = {"n_nodes": 9, "extra_edges": 7, "max_weight": 4, "directed": directed}
    weights_seen = set()
    for problem in TASK.problems(150, seed=40, difficulty=knobs, solvable=solvable):
        assert TASK.validate_problem(problem) == problem
        assert problem["n_nodes"] == 9 and problem["directed"] == directed
        assert len(problem["edges"]) == 9 - 1 + 7  # the same count either way: it gives nothing away
        assert problem["edges"] == sorted(problem["edges"])
        assert directed or all(u < v for u, v, _ in problem["edges"])
        weights_seen |= {w for *_, w in problem["edges"]}
        reachable = floyd_warshall(problem)[problem["start"]][problem["goal"]] is not None
        assert reachable == solvable
    assert weights_seen == {1, 2, 3, 4}


def test_dense_and_sparse_extremes():
    full = {"n_nodes": 6, "extra_edges": 10}
    for problem in TASK.problems(5, seed=41, difficulty=full):
        assert len(problem["edges"]) == 15
    tree = {"n_nodes": 50, "extra_edges": 0, "max_weight": 1}
    for problem in TASK.problems(5, seed=41, difficulty=tree):
        assert len(problem["edges"]) == 49 and all(w == 1 for *_, w in problem["edges"])


@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"n_nodes": 2}, "'n_nodes' must be an integer from 3 to 50"),
        ({"n_nodes": 51}, "'n_nodes' must be an integer from 3 to 50"),
        ({"max_weight": 0}, "'max_weight' must be an integer from 1 to 1000"),
        ({"max_weight": 1001}, "'max_weight'"),
        ({"extra_edges": -1}, "'extra_edges'"),
        ({"directed": "maybe"}, "'directed' must be true or false"),
        ({"n_nodes": 5, "extra_edges": 7}, "'extra_edges' must be at most 6 for an undirected graph with 5 nodes"),
        ({"n_nodes": 5, "extra_edges": 17, "directed": True}, "at most 16 for a directed graph with 5 nodes"),
        ({"extra_edges": 2401}, "at most 21"),
    ],
)
def test_bad_knobs_are_one_sentence(knobs, message):
    with pytest.raises(ArborError, match=message):
        TASK.difficulty(knobs)


def test_knob_edges_of_the_allowed_range_work():
    assert TASK.difficulty({"n_nodes": 5, "extra_edges": 6})["extra_edges"] == 6
    assert TASK.difficulty({"n_nodes": 5, "extra_edges": 16, "directed": "true"})["directed"] is True


def test_impossible_unsolvable_requests_say_so():
    with pytest.raises(ArborError, match="no unsolvable graph-path problem has 2 edges on 3 nodes"):
        list(TASK.problems(1, difficulty={"n_nodes": 3, "extra_edges": 0}, solvable=False))
    with pytest.raises(ArborError, match="unsolvable"):
        list(TASK.problems(1, difficulty={"n_nodes": 6, "extra_edges": 10}, solvable=False))
    for problem in TASK.problems(20, difficulty={"n_nodes": 6, "extra_edges": 5}, solvable=False):
        assert floyd_warshall(problem)[problem["start"]][problem["goal"]] is None  # fits only as 5+1 nodes
    for problem in TASK.problems(20, difficulty={"n_nodes": 3, "directed": True, "extra_edges": 2}, solvable=False):
        assert floyd_warshall(problem)[problem["start"]][problem["goal"]] is None


# ---- problems ----------------------------------------------------------------------------------


def test_prompt_format():
    assert TASK.prompt(SQUARE) == "nodes 4 edges 0-1:1 1-3:5 0-2:2 2-3:1 start 0 goal 3"
    assert TASK.prompt(dict(SQUARE, directed=True)) == "nodes 4 edges 0>1:1 1>3:5 0>2:2 2>3:1 start 0 goal 3"


def test_canonical_hash_ignores_edge_order_and_undirected_orientation():
    shuffled = dict(SQUARE, edges=[[3, 2, 1], [2, 0, 2], [0, 1, 1], [3, 1, 5]])
    assert TASK.problem_hash(SQUARE) == TASK.problem_hash(shuffled)
    directed = dict(SQUARE, directed=True)
    assert TASK.problem_hash(directed) != TASK.problem_hash(dict(shuffled, directed=True))
    assert TASK.problem_hash(SQUARE) != TASK.problem_hash(directed)
    assert TASK.problem_hash(SQUARE) != TASK.problem_hash(dict(SQUARE, edges=[[0, 1, 2], *SQUARE["edges"][1:]]))
    assert TASK.problem_hash(SQUARE) != TASK.problem_hash(dict(SQUARE, n_nodes=5))


@pytest.mark.parametrize(
    "problem, field",
    [
        ([1, 2, 3], "a graph-path problem must be a JSON object"),
        (dict(SQUARE, n_nodes="4"), "'n_nodes'"),
        (dict(SQUARE, n_nodes=1), "'n_nodes'"),
        (dict(SQUARE, n_nodes=True), "'n_nodes'"),
        (dict(SQUARE, directed="no"), "'directed'"),
        (dict(SQUARE, edges="0-1:1"), "'edges'"),
        (dict(SQUARE, edges=[[0, 1]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 1, 0]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 1, -3]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 1, 1.5]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 0, 1]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 4, 1]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 1, 10**10]]), "'edges'"),
        (dict(SQUARE, edges=[[0, 1, 1], [1, 0, 2]]), "'edges' joins 1 and 0 twice"),
        (dict(SQUARE, start=4), "'start'"),
        (dict(SQUARE, goal=-1), "'goal'"),
        (dict(SQUARE, goal=0), "'goal' must differ from 'start'"),
        ({k: v for k, v in SQUARE.items() if k != "goal"}, "'goal'"),
    ],
)
def test_malformed_problems_name_the_field(problem, field):
    with pytest.raises(ArborError, match=field):
        TASK.validate_problem(problem)


def test_opposite_directed_edges_are_distinct():
    problem = dict(SQUARE, edges=[[0, 1, 1], [1, 0, 2], [1, 3, 1], [0, 2, 1]], directed=True)
    assert TASK.validate_problem(problem) == problem
    assert TASK.verify(problem, "0 1 3").correct
