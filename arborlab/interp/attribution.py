"""Direct logit attribution: how much each head, MLP, embedding and bias writes to a logit difference.

The final norm is frozen at the scale it had on the real input (TransformerLens' cached
``ln_final.hook_scale``), which makes the map from residual to logits affine, so the parts of the
residual (`HookedModel.decompose`) plus the norm's and unembedding's biases add up exactly to the
model's logit difference.

The bridge runs the model's own weights, where the final norm's weight is not folded into W_U, so
TransformerLens' ``cache.logit_attrs`` (which dots with bare W_U columns) would be off by that
weight; the weight is applied here.
"""

from __future__ import annotations

import torch

from arborlab.errors import ArborError
from arborlab.interp.model import HookedModel, parse_component


def logit_diff_directions(hm: HookedModel, good: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """``W_U[:, good] - W_U[:, bad]``, ``[batch, d_model]``, for token ids ``[batch]``."""
    W_U = hm.bridge.W_U  # [d_model, d_vocab]
    return (W_U[:, good] - W_U[:, bad]).T


def direct_logit_attribution(
    hm: HookedModel, cache, good: torch.Tensor, bad: torch.Tensor, pos: int = -1
) -> tuple[torch.Tensor, list[str]]:
    """Each component's share of ``logit[good] - logit[bad]`` at `pos`: ``([n_components, batch], labels)``.

    Components are those of `HookedModel.decompose` (``L{l}H{h}``, ``{l}_mlp_out``, ``embed``,
    ``pos_embed``, ``bias``), then ``ln_final bias`` when the final norm has one and ``unembed bias``
    when the unembedding's is non-zero. The rows sum to the model's logit difference.
    """
    norm = hm.bridge.ln_final
    if hm.cfg.normalization_type not in ("LN", "RMS"):
        raise ArborError(f"direct logit attribution needs a LayerNorm or RMSNorm final norm, not {hm.cfg.normalization_type}.")
    with torch.no_grad():
        components, labels = hm.decompose(cache, pos=pos)  # [n, batch, d_model]
        normalized = cache.apply_ln_to_stack(components, layer=None, pos_slice=pos)  # centred (LN), / frozen scale
        weight = 1.0 + norm.weight if norm.uses_weight_offset else norm.weight
        directions = logit_diff_directions(hm, good, bad)  # [batch, d_model]
        attributions = (normalized * weight * directions).sum(-1)
        rows, labels = [attributions], list(labels)
        norm_bias = getattr(norm.original_component, "bias", None)
        if norm_bias is not None:
            rows.append((norm_bias * directions).sum(-1)[None])
            labels.append("ln_final bias")
        b_U = hm.bridge.b_U
        if b_U is not None and b_U.any():
            rows.append((b_U[good] - b_U[bad])[None])
            labels.append("unembed bias")
        return torch.cat(rows), labels


def attribution_by_layer(attributions: torch.Tensor, labels: list[str], n_layers: int) -> tuple[torch.Tensor, list[str]]:
    """Head rows summed per layer: ``([n_rows, batch], labels)`` with ``{l}_attn`` in place of ``L{l}H*``."""
    grouped: dict[str, torch.Tensor] = {}
    for row, label in zip(attributions, labels):
        part = parse_component(label)
        key = f"{part[1]}_attn" if part and part[0] == "head" else label
        grouped[key] = grouped.get(key, 0) + row
    order = [f"{l}_{kind}" for l in range(n_layers) for kind in ("attn", "mlp_out")]
    keys = [k for k in order if k in grouped] + [k for k in grouped if k not in order]
    return torch.stack([grouped[k] for k in keys]), keys
