"""`HookedModel`: TransformerLens 4's `TransformerBridge` over a local HF causal LM, and little else.

The bridge gives every model TransformerLens' hook names and shapes, ``run_with_cache`` and
``run_with_hooks``, on the model's own (unfolded) weights, so activations match Hugging Face's. This
layer adds what the studies here need: loading a model folder with its tokenizer through
`arborlab.models.load_model` (one-sentence errors), the residual stream decomposed into
embeddings + each head + each MLP + biases, `keep_freed_memory`, so that `run_with_cache` does
not pay for fresh memory, and a plain forward when no hook is registered (`plain_twin`), so hooks
cost nothing when unused.

Shapes (TransformerLens' names): ``blocks.{l}.hook_resid_pre`` ``[batch, pos, d_model]``,
``blocks.{l}.attn.hook_z`` ``[batch, pos, head, d_head]``, ``blocks.{l}.attn.hook_pattern``
``[batch, head, query, key]``, ``blocks.{l}.hook_mlp_out`` ``[batch, pos, d_model]``.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import re
from pathlib import Path
from typing import Any, Callable

import torch

from arborlab.errors import ArborError
from arborlab.models import load_model

Hook = tuple[str | Callable[[str], bool], Callable]
HEAD_LABEL, MLP_LABEL = re.compile(r"L(\d+)H(\d+)"), re.compile(r"(\d+)_mlp_out")


def parse_component(label: str) -> tuple[str, int, int | None] | None:
    """``("head", layer, head)`` for ``L{l}H{h}``, ``("mlp", layer, None)`` for ``{l}_mlp_out``, else None."""
    if match := HEAD_LABEL.fullmatch(label):
        return "head", int(match[1]), int(match[2])
    if match := MLP_LABEL.fullmatch(label):
        return "mlp", int(match[1]), None
    return None


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_freed_memory_kept = False


def keep_freed_memory() -> bool:
    """Make this process keep memory it frees for reuse instead of handing it back to the OS.

    A cache holds every activation of a forward pass alive, so the pass cannot reuse its own
    temporaries and glibc serves it fresh pages (mmap for blocks over 128 KiB, and a heap top that
    is trimmed back after each call); touching them costs a page fault per 4 KiB. Measured on a 3M
    Llama at batch 16 x 128: 69k page faults per `run_with_cache` against 36k for a plain forward,
    and 1.4-1.5x its time in most processes; with blocks up to 32 MiB served from a heap that is
    not trimmed below 1 GiB, no page faults after the first call and 1.04-1.13x. This is what
    PyTorch's caching allocator does on GPUs; PyTorch has no such allocator for CPU memory, hence
    glibc's own knobs. Process-wide and once; a no-op (returning False) where libc is not glibc.
    """
    global _freed_memory_kept
    if not _freed_memory_kept:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
            _freed_memory_kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
        except (OSError, AttributeError, TypeError):
            _freed_memory_kept = False
    return _freed_memory_kept


def skip_unobserved_norm_statistics(bridge) -> None:
    """Make the bridge's norms compute ``hook_scale`` and ``hook_normalized`` only when hooked.

    TransformerLens' native norm path computes the scale and the normalized input for those two
    hook points on every forward, hooked or not, and then returns the HF norm's own output unless a
    hook edited them. Unobserved, that is pure cost: 5 elementwise passes over the residual per
    norm, 13 norms in a 6-layer Llama, about 4% of a forward at batch 16 x 128 (hence `hm(ids)`
    at 1.04-1.06x a plain HF forward). With no hook on either point, this runs the HF norm alone,
    which is what the bridge returns then anyway, so the logits keep every bit.
    """
    for norm in bridge.modules():
        if not getattr(norm, "use_native_layernorm_autograd", False) or isinstance(
            getattr(norm, "original_component", None), (type(None), torch.nn.Identity)
        ):
            continue
        norm._hf_autograd_forward_with_hooks = _norm_skipping_statistics(norm, norm._hf_autograd_forward_with_hooks)


def _norm_skipping_statistics(norm, hooked_forward: Callable) -> Callable:
    def forward(x: torch.Tensor) -> torch.Tensor:
        scale, normalized = norm.hook_scale, norm.hook_normalized
        if scale.fwd_hooks or scale.bwd_hooks or normalized.fwd_hooks or normalized.bwd_hooks:
            return hooked_forward(x)
        result = norm.original_component(x)
        return result if result.dtype == x.dtype else result.to(x.dtype)

    return forward


# TransformerLens components whose unhooked outputs equal HF's own modules bit for bit (tested on
# Llama and Qwen2 folders). Others compute in their own way: GPT-2's NormalizationBridge, for one,
# computes LayerNorm itself, 4e-7 away from torch's layer_norm.
BIT_EXACT_COMPONENTS = frozenset({
    "BlockBridge", "EmbeddingBridge", "GatedMLPBridge", "LinearBridge", "PositionEmbeddingsAttentionBridge",
    "RMSNormalizationBridge", "RotaryEmbeddingBridge", "UnembeddingBridge",
})


def reproduces_hf_bits(bridge) -> bool:
    """Whether every component of `bridge` is one whose unhooked output is HF's, bit for bit."""
    from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent

    components = [module for module in bridge.modules() if isinstance(module, GeneralizedComponent)]
    return all(
        type(module).__name__ in BIT_EXACT_COMPONENTS
        and (type(module).__name__ != "RMSNormalizationBridge" or module.use_native_layernorm_autograd)
        for module in components
    )


def plain_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A second module tree over the same parameter and buffer tensors as `model`.

    Taken before `TransformerBridge` swaps its components into the HF model, it keeps HF's own
    modules, so it runs a plain HF forward on the very weights the bridge hooks (no extra memory,
    and in-place weight edits show in both). Every module is copied shallowly with its own child,
    parameter, buffer and hook tables, so swapping a child in one tree leaves the other alone.
    """
    twin = copy.copy(model)
    twin._modules = {name: None if child is None else plain_twin(child) for name, child in model._modules.items()}
    for table in ("_parameters", "_buffers", "_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
        if hasattr(model, table):
            setattr(twin, table, type(getattr(model, table))(getattr(model, table)))
    return twin


class HookedModel:
    """A local HF causal LM with TransformerLens hooks.

    `bridge` is the `TransformerBridge` (every TransformerLens feature is there), `tokenizer` the
    model folder's tokenizer, `cfg` the bridge's config (``n_layers``, ``n_heads``, ``d_model`` …).
    """

    def __init__(self, bridge, tokenizer, path: Path, plain: torch.nn.Module | None = None):
        self.bridge = bridge
        self.tokenizer = tokenizer
        self.path = path
        # `plain` (from `plain_twin`) runs `hm(ids)` when no hook is registered anywhere on the
        # bridge: the bridge's ~370 Python module calls a forward (against HF's ~100) cost 2-4% of
        # a 3M model's forward at batch 16 x 128 and ~40% at one 16-token prompt. Its logits are
        # HF eager attention's, which the bridge reproduces bit for bit where its components are
        # `BIT_EXACT_COMPONENTS` (tested), so hooking a no-op still changes no bit. Elsewhere None.
        self.plain = plain
        from transformer_lens.hook_points import HookPoint  # TransformerLens takes seconds to import

        # each hook point's hook tables: torch adds and removes hooks in these same dicts
        self._hook_tables = [
            table
            for point in bridge.modules() if isinstance(point, HookPoint)
            for table in (point._forward_hooks, point._forward_pre_hooks, point._backward_hooks, point._backward_pre_hooks)
        ]

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", head_results: bool = False) -> "HookedModel":
        """Load a model folder (config, weights, tokenizer) and lay TransformerLens' hooks over it.

        `head_results` makes the forward pass compute each head's output separately and fire
        ``blocks.{l}.attn.hook_result`` ``[batch, pos, head, d_model]``, so heads can be hooked one
        by one (``set_use_attn_result``); it costs time and memory, and summing the heads reorders
        float additions, so logits then match HF to ~1e-6 rather than bit for bit. Without it,
        `decompose` still gives each head's output, computed from ``hook_z`` and W_O.
        """
        from transformer_lens.model_bridge import TransformerBridge

        path = Path(path)
        model, tokenizer = load_model(path)
        if tokenizer is None:
            raise ArborError(f"{path} has no tokenizer files, and a HookedModel needs the model's tokenizer.")
        keep_freed_memory()
        plain = plain_twin(model)
        try:
            bridge = TransformerBridge.boot_transformers(str(path), hf_model=model, tokenizer=tokenizer, device=device)
        except (NotImplementedError, ValueError) as error:
            reason = str(error).splitlines()[0].rstrip(".")
            raise ArborError(f"TransformerLens cannot wrap the model in {path}: {reason}.") from None
        if head_results:
            # heads summed one by one reorder float additions: HF's forward is no longer the same bits
            bridge.set_use_attn_result(True)
        if head_results or not reproduces_hf_bits(bridge):
            plain = None
        skip_unobserved_norm_statistics(bridge)
        return cls(bridge.eval(), tokenizer, path, plain=None if plain is None else plain.to(device).eval())

    def to(self, *args: Any, **kwargs: Any) -> "HookedModel":
        """Move or cast the model (``torch.nn.Module.to``'s arguments): the bridge and the plain twin together."""
        self.bridge.to(*args, **kwargs)
        if self.plain is not None:
            self.plain.to(*args, **kwargs)
        return self

    @property
    def cfg(self):
        return self.bridge.cfg

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, pos, d_vocab]`` of ``input_ids`` ``[batch, pos]``, through the hooks registered now."""
        if self.plain is not None and not self.bridge.training and not self.hooks_registered():
            # no KV cache: filling one copies keys and values into a new layout, and the bridge's
            # attention products run on the projections' own layout, which is what makes the bits equal
            return self.plain(input_ids, use_cache=False).logits
        return self.bridge(input_ids)

    def hooks_registered(self) -> bool:
        """Whether any forward or backward hook sits on one of the bridge's hook points.

        Only hook points count: transformers installs permanent, inert output-capturing hooks on the
        wrapped HF modules the first time hidden states or attentions are asked for.
        """
        return any(self._hook_tables)  # any non-empty table (about 5 µs for 700 tables)

    def run_with_cache(self, input_ids: torch.Tensor, **kwargs: Any):
        """``(logits [batch, pos, d_vocab], ActivationCache)``; kwargs go to the bridge (``names_filter`` …)."""
        return self.bridge.run_with_cache(input_ids, **kwargs)

    def run_with_hooks(self, input_ids: torch.Tensor, fwd_hooks: list[Hook] = (), bwd_hooks: list[Hook] = ()) -> torch.Tensor:
        """Logits ``[batch, pos, d_vocab]`` with ``(hook name or name filter, fn(tensor, hook))`` hooks for one run."""
        return self.bridge.run_with_hooks(input_ids, fwd_hooks=list(fwd_hooks), bwd_hooks=list(bwd_hooks))

    def hooks(self, fwd_hooks: list[Hook] = (), bwd_hooks: list[Hook] = ()):
        """A context manager holding hooks on the bridge (e.g. for a forward and a backward pass)."""
        return self.bridge.hooks(fwd_hooks=list(fwd_hooks), bwd_hooks=list(bwd_hooks))

    def decompose(self, cache, pos: int | None = None) -> tuple[torch.Tensor, list[str]]:
        """The final residual stream as the sum of its parts, with their labels.

        Returns ``components [n_components, batch, pos, d_model]`` (``[n_components, batch, d_model]``
        when `pos` picks one position), labelled ``L{l}H{h}`` (each head's output, from ``hook_z``
        and W_O, without the output bias), ``{l}_mlp_out``, ``embed``, ``pos_embed`` (learned
        positions only) and ``bias`` (all attention output biases). Their sum is
        ``blocks.{n_layers-1}.hook_resid_post``.
        """
        return cache.get_full_resid_decomposition(expand_neurons=False, pos_slice=pos, return_labels=True)
