"""Input-value sweeps (the "better deal" study): vary one input of a problem, hold the others.

For each value, every component's direct logit attribution to ``logit(yes) - logit(no)``; the
derivative of each contribution with respect to the input (finite differences); and where the
model's decision flips against where the true answer flips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from arborlab.errors import ArborError
from arborlab.interp.attribution import direct_logit_attribution
from arborlab.interp.model import HookedModel
from arborlab.interp.prompts import answer_prompt_ids, answer_token, answer_words, logit_diff
from arborlab.tasks import Task
from arborlab.tasks.compare import Offers


@dataclass
class SweepResult:
    """One sweep: ``values [n_values]``, ``attributions [n_components, n_values]`` with ``labels``,
    their ``derivatives`` (same shape, per unit of the input), the model's ``logit_diff [n_values]``,
    the true answers ``truth [n_values]`` (True: the first answer, e.g. yes) and the task's exact
    ``margin [n_values]`` (compare: A's cross-product lead, positive where the answer is yes).
    """

    field: str
    values: np.ndarray
    labels: list[str]
    attributions: np.ndarray
    derivatives: np.ndarray
    logit_diff: np.ndarray
    truth: np.ndarray
    margin: np.ndarray

    def model_boundaries(self) -> list[float]:
        """Input values where the model's logit difference crosses 0 (linear interpolation)."""
        return _crossings(self.values, self.logit_diff)

    def true_boundaries(self) -> list[float]:
        """Input values where the true margin is 0 (exact: the margin is linear in each input)."""
        return _crossings(self.values, self.margin)

    def accuracy(self) -> float:
        """Share of values where the sign of the logit difference gives the true answer."""
        return float(np.mean((self.logit_diff > 0) == self.truth))


def _crossings(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Where y, linear between samples, is 0: at a sample, or interpolated between samples of opposite sign."""
    found = [float(x[i]) for i in np.nonzero(y == 0)[0]]
    for i in np.nonzero(np.sign(y[:-1]) * np.sign(y[1:]) < 0)[0]:
        found.append(float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])))
    return sorted(found)


def compare_margin(problem: Mapping[str, Any]) -> int:
    """A compare problem's exact decision quantity: A's rate lead by cross-multiplication, positive for yes."""
    offers = Offers.of(problem)
    lead = offers.a * offers.d - offers.c * offers.b
    return -lead if offers.kind.lower_is_better else lead


def require_sweeps(task: Task) -> None:
    """Refuse a task without input sweeps."""
    if not hasattr(task, "sweep"):
        raise ArborError(f"task '{task.name}' has no input sweeps; sweeps use compare.")


def sweep(hm: HookedModel, task: Task, problem: Mapping[str, Any], field: str, values: list[int],
          batch_size: int = 64) -> SweepResult:
    """Sweep `field` of `problem` over `values` (at least 3, increasing) on a two-way task (compare)."""
    require_sweeps(task)
    if len(values) < 3 or any(b <= a for a, b in zip(values, values[1:])):
        raise ArborError("a sweep needs at least 3 increasing values.")
    problems = task.sweep(problem, field, values)
    first, second = answer_words(task)
    ids = answer_prompt_ids(hm.tokenizer, task, problems)  # [n_values, pos]
    good = torch.full((len(values),), answer_token(hm.tokenizer, first))
    bad = torch.full((len(values),), answer_token(hm.tokenizer, second))
    parts, diffs = [], []
    with torch.no_grad():
        for start in range(0, len(values), batch_size):
            chunk = slice(start, start + batch_size)
            logits, cache = hm.run_with_cache(ids[chunk])
            attributions, labels = direct_logit_attribution(hm, cache, good[chunk], bad[chunk])
            parts.append(attributions)
            diffs.append(logit_diff(logits, good[chunk], bad[chunk]))
    x = np.array(values, dtype=float)
    attributions = torch.cat(parts, dim=1).numpy()
    return SweepResult(
        field=field, values=x, labels=labels, attributions=attributions,
        derivatives=np.gradient(attributions, x, axis=1), logit_diff=torch.cat(diffs).numpy(),
        truth=np.array([task.solve(p) == first for p in problems]),
        margin=np.array([compare_margin(p) for p in problems], dtype=float),
    )
