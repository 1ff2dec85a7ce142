"""The logit lens: read the residual stream after every layer through the model's final norm and unembedding."""

from __future__ import annotations

import torch

from arborlab.interp.model import HookedModel


def logit_lens(hm: HookedModel, cache, pos: int = -1) -> tuple[torch.Tensor, list[str]]:
    """Logits ``[n_layers + 1, batch, d_vocab]`` read at `pos` from the residual before each layer and after the last.

    Each residual goes through the model's own final norm (its scale recomputed from that residual,
    as the logit lens does) and unembedding, so the last row equals the model's logits. Labels:
    ``{l}_pre`` for the stream entering layer l, ``final_post`` for the output.
    """
    resid, labels = cache.accumulated_resid(pos_slice=pos, return_labels=True)  # [n_layers + 1, batch, d_model]
    with torch.no_grad():
        return hm.bridge.unembed(hm.bridge.ln_final(resid)), labels
