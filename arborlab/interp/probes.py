"""Linear probes (scikit-learn) on any hook point, with control tasks and selectivity (Hewitt & Liang 2019).

A probe dataset is a list of sites: a token sequence, a position in it, a label the task provides
and a *type*. Two label sources:

- ``answer``: the prompt of a two-way task (compare) read at its last position (just before the
  answer); label = the correct answer; type = the value of the problem's first input.
- ``solvable``, ``depth``, ``value``: the task's own search traces read at the last token of each
  step; label = the step checker's verdict on the state after that step: whether it can still reach
  a solution, how many moves from the start it lies (the search depth), or the number the step
  computed (the running value; steps that compute none, such as ``back to …``, are left out);
  type = that token.

The control task gives every type one random label, drawn from the real labels' distribution, so
a probe can only fit it by memorising types; selectivity = accuracy − control accuracy. Train and
test sets are split by problem, so no problem is on both sides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from arborlab.errors import ArborError
from arborlab.interp.model import HookedModel
from arborlab.interp.prompts import answer_prompt_ids, answer_words
from arborlab.progress import progress_bar
from arborlab.tasks import Task
from arborlab.text import THINK_OPEN
from arborlab.train.batches import prompt_ids

LABELS = ("answer", "solvable", "depth", "value")
STEP_LABELS = LABELS[1:]  # read from the step checker's StepCheck of each step


@dataclass
class Site:
    """One probed position: ``ids`` ``[pos]``, the position, its label, its control type and its problem."""

    ids: list[int]
    position: int
    label: Any
    type: Any
    group: int


def answer_sites(hm: HookedModel, task: Task, problems: list[dict]) -> list[Site]:
    """The last prompt position of each problem of a two-way task, labelled with its answer."""
    answer_words(task)
    sites = []
    for index, problem in enumerate(problems):
        ids = answer_prompt_ids(hm.tokenizer, task, [problem])[0].tolist()
        first_input = problem[task.input_fields(problem["kind"])[0]]
        sites.append(Site(ids, len(ids) - 1, task.solve(problem), first_input, index))
    return sites


def step_sites(hm: HookedModel, task: Task, problems: list[dict], label: str = "solvable", order: str = "dfs") -> list[Site]:
    """The last token of each step of each problem's search trace, labelled with the step checker's
    `label` field (``solvable``, ``depth`` or ``value``); steps where the task gives none are skipped."""
    encode = lambda text: hm.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    sites = []
    for index, problem in enumerate(problems):
        steps, _ = task.write_steps(problem, "search", order, random.Random(index))
        ids = prompt_ids(hm.tokenizer, task.prompt(problem)) + encode(THINK_OPEN + "\n")
        for check in task.check_steps(problem, steps):
            ids = ids + encode(check.step)
            if getattr(check, label) is not None:
                sites.append(Site(ids, len(ids) - 1, getattr(check, label), ids[-1], index))
            ids = ids + encode("\n")
    return sites


def make_sites(hm: HookedModel, task: Task, label: str, n: int, seed: int = 0,
               difficulty: Mapping[str, Any] | None = None) -> list[Site]:
    """Sites of `label` (one of LABELS) from `n` problems of `task`."""
    problems = list(task.problems(n, seed, difficulty))
    if label == "answer":
        return answer_sites(hm, task, problems)
    if label in STEP_LABELS:
        sites = step_sites(hm, task, problems, label)
        if not sites:
            raise ArborError(f"the {task.name} task's step checker gives no '{label}' labels; try solvable.")
        return sites
    raise ArborError(f"probe labels must be one of {', '.join(LABELS)}, got '{label}'.")


def collect(hm: HookedModel, sites: list[Site], hook: str, show_progress: bool = False) -> np.ndarray:
    """Activations ``[n_layers, n_sites, width]`` at each site, from ``hook`` with ``{layer}`` in it.

    ``width`` is d_model for residual hooks, head × d_head for ``attn.hook_z`` (flattened). Sites
    sharing one sequence (the steps of one trace) are read from one forward pass of the longest.
    """
    names = [hook.format(layer=layer) for layer in range(hm.cfg.n_layers)]
    if any(name not in hm.bridge.hook_dict for name in names):
        raise ArborError(f"'{hook}' is not a hook point of this model with {{layer}} in it, e.g. blocks.{{layer}}.hook_resid_post.")
    by_group: dict[int, list[int]] = {}
    for index, site in enumerate(sites):
        by_group.setdefault(site.group, []).append(index)
    features: list[Any] = [None] * len(sites)
    with torch.no_grad(), progress_bar("probe activations", len(by_group), show_progress, "problems") as advance:
        for indices in by_group.values():
            longest = max(indices, key=lambda i: len(sites[i].ids))
            _, cache = hm.run_with_cache(torch.tensor([sites[longest].ids]), names_filter=names)
            for i in indices:
                features[i] = torch.stack([cache[name][0, sites[i].position].flatten() for name in names])
            advance()
    return torch.stack(features, dim=1).numpy()


def control_labels(sites: list[Site], seed: int = 0) -> list[Any]:
    """Hewitt & Liang's control task: each type gets one label, drawn from the real labels' distribution."""
    rng = random.Random(seed)
    real = [site.label for site in sites]
    by_type: dict[Any, Any] = {}
    return [by_type.setdefault(site.type, rng.choice(real)) for site in sites]


def split_by_group(groups: np.ndarray, test_fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) site indices with every group (problem) on one side only."""
    from sklearn.model_selection import GroupShuffleSplit

    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    return next(splitter.split(np.zeros(len(groups)), groups=groups))


def probe_accuracy(features: np.ndarray, labels: list[Any], train: np.ndarray, test: np.ndarray) -> float:
    """Test accuracy of a standardized logistic-regression probe fit on ``features[train]`` ``[n, width]``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.array(labels, dtype=object).astype(str)
    if len(set(y[train])) < 2:
        return float(np.mean(y[test] == y[train][0]))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(features[train], y[train])
    return float(probe.score(features[test], y[test]))


def probe_layers(features: np.ndarray, sites: list[Site], seed: int = 0) -> list[dict[str, float]]:
    """Per layer: probe accuracy, control accuracy, selectivity and the majority-label baseline, from ``[n_layers, n_sites, width]``."""
    groups = np.array([site.group for site in sites])
    if len(set(groups)) < 4:
        raise ArborError(f"probes need sites from at least 4 problems to split by problem, got {len(set(groups))}.")
    labels, control = [site.label for site in sites], control_labels(sites, seed)
    train, test = split_by_group(groups, seed=seed)
    test_labels = np.array(labels, dtype=object).astype(str)[test]
    majority = max(np.mean(test_labels == value) for value in set(test_labels))
    rows = []
    for layer, layer_features in enumerate(features):
        accuracy = probe_accuracy(layer_features, labels, train, test)
        control_accuracy = probe_accuracy(layer_features, control, train, test)
        rows.append(dict(layer=layer, accuracy=accuracy, control_accuracy=control_accuracy,
                         selectivity=accuracy - control_accuracy, majority=float(majority)))
    return rows
