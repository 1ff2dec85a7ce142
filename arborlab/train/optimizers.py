"""SFT optimizers: AdamW on everything, or Muon on the transformer's weight matrices and AdamW on
the rest (embeddings, norms, biases), with one cosine schedule over both.

Muon (Jordan et al. 2024; `torch.optim.Muon`) orthogonalises each matrix's momentum before the
update, which trains small transformers in fewer steps than AdamW (the nanoGPT speedrun). It only
takes 2-D hidden matrices; embeddings and the (tied) output head stay with AdamW, as in its
reference recipe. `adjust_lr_fn="match_rms_adamw"` scales its updates to AdamW's size, so both
share the run's learning rate and weight decay.
"""

from __future__ import annotations

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
        torch.optim.Muon(matrices, lr=learning_rate, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"),
        torch.optim.AdamW(rest, lr=learning_rate, weight_decay=weight_decay, betas=ADAMW_BETAS),
    ])
