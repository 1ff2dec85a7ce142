"""An exponential moving average (EMA) of a model's weights, for evaluating and saving.

torch's `AveragedModel` keeps the averaged copy; the decay warms up as ``min(decay, (1 + n) /
(10 + n))`` after n updates (as timm's and TensorFlow's EMAs do), so an average read early in a run
is not dominated by the first steps' weights. Near the end of a run of a few thousand steps the
decay is the configured one: with 0.998 the average spans roughly the last 500 steps.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def decay_after(decay: float, updates: int) -> float:
    """The decay applied at the update that follows `updates` earlier ones."""
    return min(decay, (1 + updates) / (10 + updates))


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An EMA of `model`'s parameters; call ``.update_parameters(model)`` after each optimizer step
    and use ``.module`` (a copy of the model holding the average) to evaluate or save."""

    def update(averaged: list, current: list, updates) -> None:
        get_ema_multi_avg_fn(decay_after(decay, int(updates)))(averaged, current, updates)

    return AveragedModel(model, multi_avg_fn=update)
