"""What a search spends on one problem: generated tokens, forward FLOPs and wall time.

FLOPs follow Kaplan et al. (2020, table 1): a forward pass costs, per token at context position t,
``2 * N + 2 * n_layers * t * d_model``, where N counts the parameters that take part in matrix
products (every parameter except the input embedding table; a tied output head counts once) and
the second term is attention over the t tokens before it. Every token a model reads is charged:
prompts and prefixes that are re-read in a later sampler call (prefill) as well as generated ones
(decode), so search strategies that re-read their prefixes pay for it; tokens whose keys and
values a call takes from a cache are not read again, and not charged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Budget:
    """Compute spent on one problem.

    tokens: tokens the policy generated. flops: the policy's forward FLOPs (prefill + decode).
    verifier_flops: forward FLOPs of a learned verifier (0 for the oracle). seconds: wall time,
    a batched call's time shared between its problems in proportion to their FLOPs.
    """

    tokens: int = 0
    flops: float = 0.0
    verifier_flops: float = 0.0
    seconds: float = 0.0

    @property
    def total_flops(self) -> float:
        return self.flops + self.verifier_flops

    def as_dict(self) -> dict:
        return {**asdict(self), "total_flops": self.total_flops}


class FlopCounter:
    """Forward FLOPs of one model, by Kaplan et al.'s formula (see the module docstring)."""

    def __init__(self, model):
        config = model.config.get_text_config()
        embedding = model.get_input_embeddings().weight
        output = model.get_output_embeddings()
        unique = {id(p): p.numel() for p in model.parameters()}
        matmul = sum(unique.values()) - embedding.numel()
        if output is not None and output.weight is embedding:
            matmul += embedding.numel()  # a tied head is counted once, as a matmul
        self.matmul_params = matmul
        self.layers = config.num_hidden_layers
        self.width = config.hidden_size

    def forward(self, start: int, end: int) -> float:
        """FLOPs of reading the tokens at positions start..end-1 (0-based) with the earlier ones cached."""
        n = end - start
        attended = (start + 1 + end) * n / 2  # sum of context lengths t = start+1 .. end
        return 2.0 * self.matmul_params * n + 2.0 * self.layers * self.width * attended

    def call(self, prefix_tokens: int, new_tokens: int, cached: int = 0) -> float:
        """FLOPs of one sampler row: prefill a prefix (its first `cached` tokens already in a KV
        cache, so not read again), then decode new tokens.

        The prefill's last position yields the first new token, and each new token but the last
        is read once to yield the next, so prefix + new - 1 positions are computed.
        """
        return self.forward(cached, prefix_tokens + max(new_tokens, 1) - 1)
