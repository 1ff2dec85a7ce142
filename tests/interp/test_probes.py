"""Probes: sites from the tasks' own labels, splits by problem, control tasks, and probe accuracy on known signals."""

import re

import numpy as np
import pytest
import torch

from arborlab.errors import ArborError
from arborlab.interp.probes import Site, collect, control_labels, make_sites, probe_layers, split_by_group
from arborlab.tasks import get_task


@pytest.fixture
def llama(random_llama):
    return random_llama


def test_step_sites_carry_the_step_checkers_labels_at_each_steps_last_token(llama):
    task = get_task("compare")
    sites = make_sites(llama, task, "solvable", 6, difficulty={"max_value": 30})
    tokenizer = llama.tokenizer
    assert {site.label for site in sites} == {True, False}  # dfs search traces pass a dead end
    for site in sites:
        assert site.ids[site.position] == site.type and site.position == len(site.ids) - 1
        text = tokenizer.decode(site.ids)
        problem = list(task.problems(6, 0, {"max_value": 30}))[site.group]
        steps = text.split("<think>\n")[1].split("\n")
        assert task.check_steps(problem, steps)[-1].solvable == site.label


@pytest.mark.parametrize("label", ["depth", "value"])
def test_depth_and_value_sites_match_the_trace_text(countdown_llama, label):
    task = get_task("countdown")
    sites = make_sites(countdown_llama, task, label, 5, difficulty={"n_numbers": 3})
    assert len({site.group for site in sites}) == 5
    for site in sites:
        step = countdown_llama.tokenizer.decode(site.ids).split("\n")[-1]
        if label == "depth":
            listed = step.split(", target")[0].split("left " if "left " in step else "back to ")[1].split()
            assert site.label == 3 - len(listed)
        else:  # back-to steps compute nothing and are left out
            a, op, b, result = re.match(r"(\d+)([-+*/])(\d+)=(\d+),", step).groups()
            assert site.label == int(result) == eval(f"{a}{op.replace('/', '//')}{b}")  # noqa: S307 (digits and one operator)
    assert len({site.label for site in sites}) > 2
    with pytest.raises(ArborError, match="gives no 'depth' labels"):
        make_sites(countdown_llama, get_task("compare"), "depth", 3)


def test_answer_sites_and_collected_activations(llama):
    task = get_task("compare")
    sites = make_sites(llama, task, "answer", 5, difficulty={"max_value": 30})
    problems = list(task.problems(5, 0, {"max_value": 30}))
    assert [s.label for s in sites] == [task.solve(p) for p in problems]
    assert llama.tokenizer.convert_ids_to_tokens(sites[0].ids[-1]) == "<answer>"
    features = collect(llama, sites, "blocks.{layer}.hook_resid_pre")
    assert features.shape == (llama.cfg.n_layers, 5, llama.cfg.d_model)
    _, cache = llama.run_with_cache(torch.tensor([sites[2].ids]))
    np.testing.assert_allclose(features[1, 2], cache["blocks.1.hook_resid_pre"][0, -1].numpy(), atol=1e-6)
    with pytest.raises(ArborError, match="not a hook point"):
        collect(llama, sites, "blocks.{layer}.hook_nothing")
    with pytest.raises(ArborError, match="two-way task"):
        make_sites(llama, get_task("countdown"), "answer", 3)


def test_splits_keep_each_problem_on_one_side_and_control_labels_follow_types():
    groups = np.repeat(np.arange(20), 3)
    train, test = split_by_group(groups)
    assert not set(groups[train]) & set(groups[test]) and len(train) + len(test) == 60
    sites = [Site([], 0, i % 2 == 0, i % 7, i // 3) for i in range(60)]
    control = control_labels(sites)
    by_type = {}
    for site, label in zip(sites, control):
        assert by_type.setdefault(site.type, label) == label
    assert set(control) <= {True, False}


def test_probes_find_a_linear_signal_and_selectivity_separates_it_from_memorised_types():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 2, n)
    types = rng.integers(0, 200, n)  # 200 types: random labels per type are hard to fit linearly from noise
    noise = rng.normal(size=(n, 16))
    signal = noise.copy()
    signal[:, 0] += 4 * (2 * labels - 1)  # layer 1 carries the label along one direction
    sites = [Site([], 0, bool(labels[i]), int(types[i]), i) for i in range(n)]
    rows = probe_layers(np.stack([noise, signal]), sites)
    assert rows[0]["accuracy"] < 0.65 and rows[1]["accuracy"] > 0.95
    assert rows[1]["selectivity"] > 0.3 and abs(rows[0]["selectivity"]) < 0.2
    assert 0.5 <= rows[0]["majority"] <= 0.6
