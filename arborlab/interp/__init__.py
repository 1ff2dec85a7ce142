"""Dissection tools over TransformerLens' bridge: hooks, logit lens, attribution, sweeps, patching, probes.

    from arborlab.interp import HookedModel
    hm = HookedModel.from_pretrained("runs/compare/final")
    logits, cache = hm.run_with_cache(input_ids)
"""

__all__ = ["HookedModel"]


def __getattr__(name: str):
    # imported on first use, so `arbor --help` does not load TransformerLens and transformers
    if name == "HookedModel":
        from arborlab.interp.model import HookedModel

        return HookedModel
    raise AttributeError(f"module 'arborlab.interp' has no attribute {name!r}")
