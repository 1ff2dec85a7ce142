"""Tiny toy models for the search and PRM tests, each trained once per test process.

* `toy_model_dir()`: the search policy, on `compare` (unit prices up to 12), about 15 s. Its yes/no
  answers give even a tiny model a mix of right and wrong samples, and its traces have several
  checkable steps.
* `slip_model_dir()`: the PRM backbone, on `arithmetic` search traces (two digits plus one), about
  11 s. Those traces hold slips that the next step catches, so the backbone learns to notice them.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import torch

from arborlab.train.sft import SFTConfig, train_sft

TASK = "compare"
DIFFICULTY = {"kind": "unit_price", "max_value": 12}
SLIP_TASK = "arithmetic"
SLIP_DIFFICULTY = {"digits": 2, "b_digits": 1}
TINY = {"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2}


def _train(task: str, style: str, difficulty: dict, n_problems: int, steps: int, model: dict = TINY) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"arbor-toy-{task}-"))
    torch.set_num_threads(1)
    config = SFTConfig(
        task=task, style=style, difficulty=difficulty, n_problems=n_problems, preset="1m", model=model, batch_size=32,
        max_steps=steps, learning_rate=5e-3, warmup_steps=10, log_every=50, eval_every=10_000, eval_problems=8,
        final_eval_problems=8, checkpoint_every=10_000, max_new_tokens=60,
    )
    train_sft(config, folder / "run", show_progress=False)
    return folder / "run" / "final"


@lru_cache(maxsize=1)
def toy_model_dir() -> Path:
    """The search policy's folder (a temporary folder that lives as long as the process)."""
    return _train(TASK, "cot", DIFFICULTY, 1500, 150)


@lru_cache(maxsize=1)
def slip_model_dir() -> Path:
    """The PRM backbone's folder (a temporary folder that lives as long as the process)."""
    return _train(SLIP_TASK, "search", SLIP_DIFFICULTY, 600, 100, model={**TINY, "hidden_size": 64, "intermediate_size": 128})
