"""SFT optimizers: AdamW on everything, or Muon on the transformer's weight matrices and AdamW on
the rest (embeddings, norms, biases), with one cosine schedule over both.

Muon (Jordan et al. 2024; `torch.optim.Muon`) orthogonalises each matrix's momentum before the
update, which trains small transformers in fewer steps than AdamW (the nanoGPT speedrun). It only
takes 2-D hidden matrices; embeddings and the (tied) output head stay with AdamW, as in its
reference recipe. `adjust_lr_fn="match_rms_adamw"` scales its updates to AdamW's size, so both
share the run's learning rate and weight decay.

`ShapeBatchedMuon` is `torch.optim.Muon` with the matrices of one shape orthogonalised together:
torch's loops over them one at a time, and on the demo's 28 small matrices (4 shapes) the stacked
step is about 2.2-2.4 times as fast (`benchmarks/muon_step.py`).
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch
from transformers import get_cosine_schedule_with_warmup

OPTIMIZERS = ("adamw", "muon")
ADAMW_BETAS = (0.9, 0.95)


class _Group:
    """Members (optimizers or schedules) checkpointed as one. With a single member the state dict is
    that member's own, so checkpoints from before Muon existed load unchanged."""

    members: list

    def state_dict(self) -> dict:
        if len(self.members) == 1:
            return self.members[0].state_dict()
        return {"members": [member.state_dict() for member in self.members]}

    def load_state_dict(self, state: dict) -> None:
        states = state["members"] if "members" in state else [state]
        for member, member_state in zip(self.members, states, strict=True):
            member.load_state_dict(member_state)


class Optimizers(_Group):
    """Several optimizers stepped as one."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.members = optimizers

    def step(self) -> None:
        for optimizer in self.members:
            optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.members:
            optimizer.zero_grad(set_to_none=set_to_none)


class CosineSchedules(_Group):
    """Linear warmup then cosine decay (HF's schedule) on each of `optimizers`, stepped as one."""

    def __init__(self, optimizers: Optimizers, warmup_steps: int, max_steps: int, last_epoch: int = -1):
        self.members = [get_cosine_schedule_with_warmup(o, warmup_steps, max_steps, last_epoch=last_epoch) for o in optimizers.members]

    def step(self) -> None:
        for schedule in self.members:
            schedule.step()

    def get_last_lr(self) -> list[float]:
        return self.members[0].get_last_lr()


class ShapeBatchedMuon(torch.optim.Muon):
    """`torch.optim.Muon` (same settings, state and checkpoints) stepping the matrices of each shape
    as one stacked batch. Updates equal torch's up to bf16 rounding (tests/test_optimizers.py)."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse or torch.is_complex(p) for p in params):
                raise RuntimeError("Muon does not support sparse gradients or complex parameters")
            grads = [p.grad for p in params]
            buffers = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad)) for p in params]
            momentum = group["momentum"]
            torch._foreach_lerp_(buffers, grads, 1 - momentum)
            updates = torch._foreach_lerp(grads, buffers, momentum) if group["nesterov"] else buffers
            lr = float(group["lr"])
            if group["weight_decay"]:
                torch._foreach_mul_(params, 1 - lr * group["weight_decay"])
            by_shape = defaultdict(list)
            for index, param in enumerate(params):
                by_shape[tuple(param.shape)].append(index)
            for shape, indices in by_shape.items():
                stacked = torch.stack([updates[i] for i in indices])
                orthogonal = newton_schulz(stacked, group["ns_coefficients"], group["ns_steps"], group["eps"])
                adjusted_lr = lr * muon_lr_ratio(group["adjust_lr_fn"], shape)
                torch._foreach_add_([params[i] for i in indices], list(orthogonal.unbind(0)), alpha=-adjusted_lr)
        return loss


def muon_lr_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """The factor `torch.optim.Muon` puts on the learning rate of a matrix of `shape` (its
    `_adjust_lr`, private to torch, so restated here; the test against torch's Muon holds them equal)."""
    rows, columns = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, columns))
    return math.sqrt(max(1, rows / columns))  # "original", or None (its default); Muon refuses any other name


def newton_schulz(matrices: torch.Tensor, coefficients: tuple[float, float, float], steps: int, eps: float) -> torch.Tensor:
    """Muon's quintic Newton-Schulz orthogonalisation of a stack of matrices, in bf16 as torch's.

    matrices: [batch, rows, columns]; returns bf16 of the same shape."""
    a, b, c = coefficients
    tall = matrices.size(1) > matrices.size(2)
    x = matrices.bfloat16()
    if tall:
        x = x.mT
    x = x / x.norm(dim=(1, 2), keepdim=True).clamp(min=eps)  # spectral norms at most 1
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if tall else x


def muon_parameters(model: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(the hidden 2-D weight matrices, everything else): Muon's share and AdamW's."""
    embeddings = {id(p) for module in (model.get_input_embeddings(), model.get_output_embeddings()) if module is not None for p in module.parameters()}
    matrices, rest = [], []
    for parameter in model.parameters():
        (matrices if parameter.ndim == 2 and id(parameter) not in embeddings else rest).append(parameter)
    return matrices, rest


def build_optimizers(model: torch.nn.Module, name: str, learning_rate: float, weight_decay: float) -> Optimizers:
    """The optimizer(s) `name` ("adamw" or "muon") over the model's trainable parameters."""
    if name == "adamw":
        return Optimizers([torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay, betas=ADAMW_BETAS)])
    matrices, rest = muon_parameters(model)
    return Optimizers([
        ShapeBatchedMuon(matrices, lr=learning_rate, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"),
        torch.optim.AdamW(rest, lr=learning_rate, weight_decay=weight_decay, betas=ADAMW_BETAS),
    ])
