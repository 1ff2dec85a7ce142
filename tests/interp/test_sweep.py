"""Sweeps: attributions per value agree with single runs, derivatives with hand finite differences, boundaries with the task."""

import numpy as np
import pytest
import torch

from arborlab.errors import ArborError
from arborlab.interp.attribution import direct_logit_attribution
from arborlab.interp.prompts import answer_prompt_ids, answer_token
from arborlab.interp.sweep import SweepResult, sweep
from arborlab.tasks import get_task

PROBLEM = {"kind": "unit_price", "price_a": 12, "quantity_a": 4, "price_b": 15, "quantity_b": 6}


def test_sweep_matches_single_runs_and_the_true_boundary(toy):
    task = get_task("compare")
    values = list(range(5, 26, 2))
    result = sweep(toy, task, PROBLEM, "price_a", values, batch_size=4)
    assert result.attributions.shape == (len(result.labels), len(values)) == result.derivatives.shape
    np.testing.assert_allclose(result.attributions.sum(0), result.logit_diff, atol=1e-4)
    # one value on its own gives the same attributions as inside the batched sweep
    problem = dict(PROBLEM, price_a=values[3])
    yes, no = (torch.tensor([answer_token(toy.tokenizer, w)]) for w in ("yes", "no"))
    _, cache = toy.run_with_cache(answer_prompt_ids(toy.tokenizer, task, [problem]))
    single, _ = direct_logit_attribution(toy, cache, yes, no)
    np.testing.assert_allclose(result.attributions[:, 3], single[:, 0].numpy(), atol=1e-5)
    # centred finite difference at an inner point, with step 2
    np.testing.assert_allclose(result.derivatives[:, 4], (result.attributions[:, 5] - result.attributions[:, 3]) / 4, atol=1e-6)
    # A (price_a for 4 units) is the better deal than B (15 for 6) when price_a / 4 < 15 / 6, i.e. price_a < 10
    assert result.truth.tolist() == [v < 10 for v in values]
    assert result.margin.tolist() == [15 * 4 - v * 6 for v in values]
    assert result.true_boundaries() == [10.0]


def test_crossings_and_accuracy_by_hand():
    result = SweepResult("x", np.array([1.0, 2.0, 3.0, 4.0]), [], np.zeros((0, 4)), np.zeros((0, 4)),
                         np.array([2.0, -2.0, -1.0, 3.0]), np.array([True, True, False, False]), np.array([3.0, 1.0, 0.0, -2.0]))
    assert result.model_boundaries() == [1.5, 3.25]
    assert result.true_boundaries() == [3.0]
    assert result.accuracy() == 0.5


def test_bad_sweeps_are_one_sentence(toy):
    with pytest.raises(ArborError, match="at least 3 increasing"):
        sweep(toy, get_task("compare"), PROBLEM, "price_a", [3, 2, 1])
    with pytest.raises(ArborError, match="cannot sweep"):
        sweep(toy, get_task("compare"), PROBLEM, "speed", [1, 2, 3])
    with pytest.raises(ArborError, match="different lengths"):
        sweep(toy, get_task("compare"), PROBLEM, "price_a", [998, 999, 1000])
