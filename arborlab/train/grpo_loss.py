"""The GRPO objective and its published variants, as two small functions.

GRPO (Shao et al. 2024, DeepSeekMath, eq. 3) maximizes, for G samples o_1..o_G of one prompt q,

    J(θ) = 1/G Σ_i 1/|o_i| Σ_t [ min( ρ_it Â_i, clip(ρ_it, 1 − ε_low, 1 + ε_high) Â_i ) − β D_KL,it ]

    ρ_it   = π_θ(o_it | q, o_i<t) / π_old(o_it | q, o_i<t)            (importance ratio)
    Â_i    = (R_i − mean(R_1..R_G)) / (std(R_1..R_G) + 1e-4)          (group-normalized advantage)
    D_KL,it = π_ref / π_θ − log(π_ref / π_θ) − 1                      (Schulman's k3 estimator)

and the loss is −J. The variants are options of the same two functions:

* Dr. GRPO (Liu et al. 2025): no std division (``scale=False``) and no per-sequence length
  normalization (``aggregation="constant"``: Σ_i Σ_t over G · L_max).
* DAPO (Yu et al. 2025): token-level aggregation (``aggregation="token"``: Σ_i Σ_t over Σ_i |o_i|),
  clip-higher (``epsilon_high > epsilon_low``); dynamic sampling lives in the training loop.
* Importance-weighted KL (DeepSeek-V3.2; TRL's default): D_KL,it × ρ_it, whose gradient is the
  unbiased reverse-KL gradient off-policy (``kl_importance_weight=True``).
* Entropy bonus: −c · H̄, the mean policy entropy over the tokens the loss acts on.
* High-entropy minority tokens (Wang et al. 2025): the policy term only on the top
  ``top_entropy_quantile`` of tokens by entropy.

With these names the loss equals TRL's `GRPOTrainer` loss for loss_type ``grpo`` (``sequence``),
``bnpo``/``dapo`` on one batch (``token``) and ``dr_grpo`` (``constant``); the tests check that.
"""

from __future__ import annotations

import torch

AGGREGATIONS = ("sequence", "token", "constant")
ADVANTAGE_EPS = 1e-4  # added to the group std, as in TRL


def group_advantages(rewards: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """Â: each reward minus its group's mean, divided by the group's std (Bessel) + 1e-4 when `scale`.

    rewards: [groups, group_size] → advantages [groups, group_size]. A group whose rewards are all
    equal gets advantage 0 (it carries no signal).
    """
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if not scale:
        return centered
    std = rewards.std(dim=1, keepdim=True) if rewards.shape[1] > 1 else torch.zeros_like(rewards[:, :1])
    return centered / (std + ADVANTAGE_EPS)


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logprobs: torch.Tensor | None = None,
    beta: float = 0.0,
    kl_importance_weight: bool = False,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    aggregation: str = "sequence",
    max_length: int | None = None,
    entropies: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    top_entropy_quantile: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """−J(θ) of the module docstring, and statistics of the batch.

    logprobs: [batch, length], log π_θ of each completion token (with gradient).
    old_logprobs: [batch, length], log π_old of the same tokens (the sampling policy).
    advantages: [batch], Â of each completion.
    mask: [batch, length], 1 on completion tokens, 0 on padding.
    ref_logprobs: [batch, length], log π_ref (needed when beta > 0; gives the "kl" statistic).
    kl_importance_weight: multiply the per-token KL penalty by ρ (DeepSeek-V3.2).
    aggregation: "sequence" (GRPO), "token" (DAPO) or "constant" (Dr. GRPO, over batch · max_length;
        max_length defaults to `length`).
    entropies: [batch, length], the policy's entropy at each token (with gradient when entropy_coef > 0;
        needed for entropy_coef > 0 or top_entropy_quantile < 1).

    Statistics (floats): policy_loss (the loss without the entropy bonus), clip_low / clip_high
    (share of tokens whose ratio is clipped below with Â < 0 / above with Â > 0), clip_fraction
    (their sum), and kl / entropy (masked token means) when those inputs are given.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if (entropy_coef or top_entropy_quantile < 1) and entropies is None:
        raise ValueError("entropy_coef and top_entropy_quantile need the token entropies")
    if beta and ref_logprobs is None:
        raise ValueError("beta > 0 needs ref_logprobs")
    mask = mask.to(logprobs.dtype)
    advantage = advantages[:, None]  # [batch, 1]
    ratio = torch.exp(logprobs - old_logprobs)  # ρ, [batch, length]
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    per_token = -torch.min(ratio * advantage, clipped * advantage)
    policy_mask = mask if top_entropy_quantile >= 1 else mask * high_entropy_mask(entropies, mask, top_entropy_quantile)
    per_token = per_token * policy_mask
    stats: dict[str, float] = {}
    if ref_logprobs is not None:
        log_ref_ratio = ref_logprobs - logprobs
        kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1  # k3, [batch, length]
        stats["kl"] = _masked_mean(kl, mask).item()
        if beta:
            per_token = per_token + beta * (kl * ratio if kl_importance_weight else kl)

    if aggregation == "sequence":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    elif aggregation == "token":
        loss = (per_token * mask).sum() / mask.sum().clamp(min=1)
    else:
        loss = (per_token * mask).sum() / (per_token.shape[0] * (max_length or per_token.shape[1]))
    stats["policy_loss"] = loss.item()
    if entropies is not None:
        stats["entropy"] = _masked_mean(entropies, mask).item()
        if entropy_coef:
            loss = loss - entropy_coef * _masked_mean(entropies, policy_mask)

    with torch.no_grad():
        low = ((ratio < 1 - epsilon_low) & (advantage < 0)).to(mask.dtype)
        high = ((ratio > 1 + epsilon_high) & (advantage > 0)).to(mask.dtype)
        stats["clip_low"] = _masked_mean(low, mask).item()
        stats["clip_high"] = _masked_mean(high, mask).item()
        stats["clip_fraction"] = stats["clip_low"] + stats["clip_high"]
    return loss, stats


def high_entropy_mask(entropies: torch.Tensor, mask: torch.Tensor, quantile: float) -> torch.Tensor:
    """1 on the tokens whose entropy is in the top `quantile` of the batch's real tokens.

    entropies, mask: [batch, length] → [batch, length] (0 on padding).
    """
    real = entropies.detach()[mask.bool()].float()
    if real.numel() == 0:
        return torch.zeros_like(mask)
    threshold = torch.quantile(real, 1 - quantile)
    return ((entropies.detach() >= threshold) & mask.bool()).to(mask.dtype)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)
