"""Activation patching on minimal pairs (TransformerLens' `patching`), and its gradient approximation.

A minimal pair is a clean and a corrupted prompt one number apart whose answers differ. The metric
is the logit difference between the clean answer and the corrupted one, averaged over pairs and
normalized so that 0 is the corrupted run and 1 the clean run.

- denoising: run the corrupted prompt and put one clean activation in; a component whose patch
  reaches 1 is sufficient to restore the answer.
- noising: run the clean prompt and put one corrupted activation in; a component whose patch falls
  to 0 is necessary.

Grids: ``resid_pre`` ``[layer, pos]`` (the residual stream entering each layer at each position),
``head_out`` ``[layer, head]`` (each head's output at every position, patched through ``hook_z``),
``mlp_out`` ``[layer, pos]``.

Attribution patching (Nanda 2023) estimates every cell from one forward and one backward pass:
``patched ≈ base + (a_source - a_base) · ∂metric/∂a`` at the base run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from arborlab.errors import ArborError
from arborlab.interp.model import HookedModel, parse_component
from arborlab.interp.prompts import answer_prompt_ids, answer_tokens, logit_diff
from arborlab.tasks import Task

MODES = ("denoising", "noising")
GRID_HOOKS = {"resid_pre": "blocks.{}.hook_resid_pre", "head_out": "blocks.{}.attn.hook_z", "mlp_out": "blocks.{}.hook_mlp_out"}
GRID_AXES = {"resid_pre": ("layer", "pos"), "head_out": ("layer", "head"), "mlp_out": ("layer", "pos")}


@dataclass
class PairBatch:
    """Minimal pairs as tensors: prompt ids ``[batch, pos]`` and the clean/corrupted answers ``[batch]``."""

    clean_ids: torch.Tensor
    corrupt_ids: torch.Tensor
    clean_answer: torch.Tensor
    corrupt_answer: torch.Tensor
    problems: list[tuple[dict, dict]]


def require_pairs(task: Task) -> None:
    """Refuse a task whose generator makes no minimal pairs."""
    if not hasattr(task, "minimal_pair"):
        raise ArborError(f"task '{task.name}' makes no minimal pairs; patching studies use compare.")


def minimal_pairs(hm: HookedModel, task: Task, n: int, seed: int = 0, difficulty: Mapping[str, Any] | None = None,
                  field: str | None = None) -> PairBatch:
    """`n` minimal pairs from the task's generator (one number changes, the answer flips)."""
    require_pairs(task)
    rng = random.Random(seed)
    pairs = [task.minimal_pair(rng, difficulty, field) for _ in range(n)]
    clean, corrupt = [p[0] for p in pairs], [p[1] for p in pairs]
    clean_answer, corrupt_answer = answer_tokens(hm.tokenizer, task, clean)
    return PairBatch(answer_prompt_ids(hm.tokenizer, task, clean), answer_prompt_ids(hm.tokenizer, task, corrupt),
                     clean_answer, corrupt_answer, pairs)


class NormalizedLogitDiff:
    """``(logit_diff - corrupted) / (clean - corrupted)`` averaged over the batch; a scalar metric of logits."""

    def __init__(self, hm: HookedModel, pairs: PairBatch):
        self.good, self.bad = pairs.clean_answer, pairs.corrupt_answer
        with torch.no_grad():
            self.clean = logit_diff(hm(pairs.clean_ids), self.good, self.bad).mean()
            self.corrupt = logit_diff(hm(pairs.corrupt_ids), self.good, self.bad).mean()
        if (self.clean - self.corrupt).abs() < 1e-6:
            raise ArborError("the model gives the clean and corrupted prompts the same logit difference, so there is nothing to patch.")

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return (logit_diff(logits, self.good, self.bad).mean() - self.corrupt) / (self.clean - self.corrupt)


def _runs(pairs: PairBatch, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the ids that run, the ids whose activations are patched in)."""
    if mode not in MODES:
        raise ArborError(f"patching mode must be {' or '.join(MODES)}, got '{mode}'.")
    return (pairs.corrupt_ids, pairs.clean_ids) if mode == "denoising" else (pairs.clean_ids, pairs.corrupt_ids)


def _names_filter(name: str) -> bool:
    return name.endswith(("hook_resid_pre", "attn.hook_z", "hook_mlp_out"))


def activation_patching(hm: HookedModel, pairs: PairBatch, mode: str = "denoising") -> dict[str, torch.Tensor]:
    """Exact patching: the normalized metric after patching each cell of each grid (see the module docstring)."""
    from transformer_lens import patching

    functions = {
        "resid_pre": patching.get_act_patch_resid_pre,
        "head_out": patching.get_act_patch_attn_head_out_all_pos,
        "mlp_out": patching.get_act_patch_mlp_out,
    }
    run_ids, source_ids = _runs(pairs, mode)
    metric = NormalizedLogitDiff(hm, pairs)
    with torch.no_grad():
        _, source_cache = hm.run_with_cache(source_ids, names_filter=_names_filter)
        return {name: fn(hm.bridge, run_ids, source_cache, metric) for name, fn in functions.items()}


def attribution_patching(hm: HookedModel, pairs: PairBatch, mode: str = "denoising") -> dict[str, torch.Tensor]:
    """The gradient approximation of `activation_patching`, with the same grids and normalization."""
    run_ids, source_ids = _runs(pairs, mode)
    metric = NormalizedLogitDiff(hm, pairs)
    with torch.no_grad():
        _, source = hm.run_with_cache(source_ids, names_filter=_names_filter)
    names = [pattern.format(layer) for pattern in GRID_HOOKS.values() for layer in range(hm.cfg.n_layers)]
    acts, grads = {}, {}

    def keeper(store: dict, name: str):
        # keyed by the name asked for: the bridge's hook.name is the canonical alias (e.g. blocks.0.hook_in)
        return lambda tensor, hook: store.__setitem__(name, tensor.detach())

    fwd = [(name, keeper(acts, name)) for name in names]
    bwd = [(name, keeper(grads, name)) for name in names]
    with torch.enable_grad(), hm.hooks(fwd_hooks=fwd, bwd_hooks=bwd):
        metric(hm(run_ids)).backward()
    hm.bridge.zero_grad(set_to_none=True)
    base = 0.0 if mode == "denoising" else 1.0
    grids = {}
    for grid, pattern in GRID_HOOKS.items():
        rows = []
        for layer in range(hm.cfg.n_layers):
            name = pattern.format(layer)
            effect = (source[name] - acts[name]) * grads[name]  # [batch, pos, d_model] or [batch, pos, head, d_head]
            rows.append(effect.sum(dim=(0, 1, 3)) if grid == "head_out" else effect.sum(dim=(0, 2)))
        grids[grid] = base + torch.stack(rows)
    return grids


def patch_components(hm: HookedModel, pairs: PairBatch, components: list[str], mode: str = "denoising") -> float:
    """The normalized metric with several components patched together at every position.

    Components are labels of `HookedModel.decompose`: ``L{l}H{h}`` (a head, through ``hook_z``) or
    ``{l}_mlp_out``. With noising, a value near 0 says the components are together necessary.
    """
    run_ids, source_ids = _runs(pairs, mode)
    metric = NormalizedLogitDiff(hm, pairs)
    with torch.no_grad():
        _, source = hm.run_with_cache(source_ids, names_filter=_names_filter)
    heads: dict[str, list[int]] = {}
    hooks = []
    for label in components:
        part = parse_component(label)
        if part is None or part[1] >= hm.cfg.n_layers or (part[2] or 0) >= hm.cfg.n_heads:
            raise ArborError(f"'{label}' is not a head (L0H1) or an MLP (0_mlp_out) of this model.")
        kind, layer, head = part
        if kind == "head":
            heads.setdefault(GRID_HOOKS["head_out"].format(layer), []).append(head)
        else:
            name = GRID_HOOKS["mlp_out"].format(layer)
            hooks.append((name, lambda tensor, hook, name=name: source[name]))

    def put_heads(tensor, hook, name, chosen):
        tensor = tensor.clone()
        tensor[:, :, chosen] = source[name][:, :, chosen]  # [batch, pos, head, d_head]
        return tensor

    hooks += [(name, lambda t, hook, name=name, chosen=chosen: put_heads(t, hook, name, chosen)) for name, chosen in heads.items()]
    with torch.no_grad():
        return float(metric(hm.run_with_hooks(run_ids, fwd_hooks=hooks)))


def correlation(exact: torch.Tensor, approximate: torch.Tensor) -> float:
    """Pearson correlation of two grids' cells (nan when either is constant)."""
    return float(torch.corrcoef(torch.stack([exact.flatten(), approximate.flatten()]))[0, 1])
