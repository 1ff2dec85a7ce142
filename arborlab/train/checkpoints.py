"""Checkpoints every trainer shares: ``checkpoints/step-N/`` = save_pretrained folder + trainer state.

The trainer state is a dict (optimizer, schedule, and whatever else a trainer needs to continue
exactly) plus torch's global RNG state. A checkpoint is written under a temporary name and renamed
into place, so a ``kill -9`` leaves only whole checkpoints behind.
"""

from __future__ import annotations

from typing import Any

import torch

from arborlab.io import atomic_directory
from arborlab.models import load_model, write_model_files
from arborlab.runs import RunFolder

STATE_FILE = "trainer_state.pt"


def save_checkpoint(run: RunFolder, model, tokenizer, state: dict[str, Any], step: int, keep: int) -> None:
    """Write checkpoints/step-`step` whole (with torch's RNG state added to `state`), then keep the newest `keep`."""
    with atomic_directory(run.checkpoint(step), overwrite=True) as staging:
        write_model_files(model, tokenizer, staging)
        torch.save({**state, "torch_rng": torch.get_rng_state(), "step": step}, staging / STATE_FILE)
    run.prune_checkpoints(keep)


def load_checkpoint(run: RunFolder, step: int) -> tuple[Any, Any, dict[str, Any]]:
    """(model in train mode, tokenizer, trainer state) of checkpoints/step-`step`; restores torch's RNG."""
    folder = run.checkpoint(step)
    model, tokenizer = load_model(folder)
    state = torch.load(folder / STATE_FILE, weights_only=False)
    torch.set_rng_state(state["torch_rng"])
    return model.train(), tokenizer, state
