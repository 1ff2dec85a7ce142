"""Toy models: tiny Llama presets, and loading and saving any local Hugging Face causal LM.

There is one model format: a Hugging Face causal-LM folder (``config.json``, ``model.safetensors``
and, usually, the tokenizer files), so ``AutoModelForCausalLM.from_pretrained`` loads every model
and every tool works on any local Llama, Qwen2, GPT-2 … folder, toy or not.
"""

from __future__ import annotations

import contextlib
import math

from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
from transformers.utils import logging as hf_logging

from arborlab.errors import ArborError
from arborlab.io import atomic_directory

# Shapes of the tiny Llama presets. Parameter counts with a ~1,100-token vocabulary and tied
# embeddings: 1m ≈ 1.03M, 3m ≈ 3.13M, 20m ≈ 19.9M. All use grouped-query attention (two key/value
# heads), which shrinks the KV cache and the attention work per decoding step, and an MLP 3.5x wide.
PRESETS: dict[str, dict[str, int]] = {
    "1m": dict(hidden_size=128, intermediate_size=448, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2),
    "3m": dict(hidden_size=192, intermediate_size=672, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2),
    "20m": dict(hidden_size=384, intermediate_size=1344, num_hidden_layers=10, num_attention_heads=6, num_key_value_heads=2),
}

# Settings every preset shares. Embeddings are tied: at these sizes the embedding matrix is a large
# share of all parameters, and tying is what small open models (SmolLM, Qwen2.5-0.5B) do.
_COMMON = dict(max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=True)

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


def make_config(
    preset: str,
    vocab_size: int,
    *,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    **overrides,
) -> LlamaConfig:
    """The LlamaConfig of a tiny preset ("1m", "3m", "20m") for a tokenizer's vocabulary and special ids.

    `overrides` replace any LlamaConfig setting, e.g. ``num_hidden_layers=8``.
    """
    if preset not in PRESETS:
        raise ArborError(f"unknown model preset '{preset}'; choose one of {', '.join(PRESETS)}.")
    if vocab_size < 1:
        raise ArborError(f"vocab_size must be positive, got {vocab_size}.")
    known = LlamaConfig()
    for key in overrides:
        if not hasattr(known, key):
            raise ArborError(f"'{key}' is not a LlamaConfig setting.")
    settings = {**_COMMON, **PRESETS[preset], **overrides}
    return LlamaConfig(
        vocab_size=vocab_size, bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id, **settings
    )


def load_model(path: str | Path):
    """Load a local Hugging Face causal-LM folder as ``(model, tokenizer)``, the model in eval mode.

    The tokenizer is None when the folder has no tokenizer files: the model alone is enough for
    tools that work on token ids, and callers that need text raise their own error.
    """
    folder = Path(path)
    config = check_model_folder(folder)
    return _read_weights(folder, config), _read_tokenizer(folder)


def check_model_folder(path: str | Path):
    """The config of a causal-LM folder that has weights, or one sentence on what is wrong (weights unread)."""
    folder = Path(path)
    if not folder.exists():
        raise ArborError(f"the model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ArborError(f"{folder} is a file, but a model is a folder holding config.json and the weights.")
    if not (folder / "config.json").is_file():
        raise ArborError(f"{folder} is not a Hugging Face model folder: it has no config.json.")
    config = _read_config(folder)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ArborError(f"{folder} holds a '{config.model_type}' model, which is not a causal language model.")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ArborError(f"{folder} has a config.json but no weights file (model.safetensors).")
    return config


def save_model(model, tokenizer, path: str | Path, overwrite: bool = False) -> Path:
    """Write `model` (safetensors) and `tokenizer` (skipped when None) as a Hugging Face folder.

    Everything is written into a temporary sibling folder that is renamed into place at the end, so
    a crash leaves either the old folder or the new one. An existing `path` is refused unless
    `overwrite`, and then replaced only once the new folder is complete.
    """
    path = Path(path)
    with atomic_directory(path, overwrite=overwrite) as staging:
        write_model_files(model, tokenizer, staging)
    return path


def write_model_files(model, tokenizer, folder: Path) -> None:
    """`save_pretrained` of the model and (unless None) the tokenizer into an existing folder, quietly.

    The one place model folders are written: `save_model` and the trainers' checkpoints use it.
    """
    with quiet_transformers():
        model.save_pretrained(folder)
        if tokenizer is not None:
            tokenizer.save_pretrained(folder)


@contextlib.contextmanager
def quiet_transformers(load_reports: bool = False):
    """Silence transformers' per-file bars ("Loading weights", "Writing model shards") for a block,
    and with `load_reports` its warnings too; the settings are restored afterwards.

    A tiny model loads and saves in milliseconds, so the bars only interleave with our own progress
    bar and fill logs. `load_reports` is for loading a model with a new head on purpose (a PRM's
    scoring head), where the "MISSING" report is expected, not news.
    """
    bars_were_enabled, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    if load_reports:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_were_enabled:
            hf_logging.enable_progress_bar()


def _read_config(folder: Path):
    try:
        return AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).splitlines()[0].rstrip(".")
        raise ArborError(f"the config.json in {folder} cannot be read: {reason}.") from None


def _read_weights(folder: Path, config):
    try:
        # Shape mismatches are reported in `info` rather than raised, so both cases get one sentence.
        with quiet_transformers():
            model, info = AutoModelForCausalLM.from_pretrained(
                folder, config=config, output_loading_info=True, ignore_mismatched_sizes=True
            )
    except SafetensorError as error:
        raise ArborError(f"the weights in {folder} are truncated or corrupt ({error}).") from None
    for problem, keys in (("missing", info["missing_keys"]), ("of the wrong shape", info["mismatched_keys"])):
        if keys:
            raise ArborError(
                f"the weights in {folder} do not match its config.json: "
                f"{len(keys)} tensors are {problem}, e.g. {sorted(keys)[0]}."
            )
    return model.eval()


def _read_tokenizer(folder: Path):
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return None
    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).splitlines()[0].rstrip(".")
        raise ArborError(f"the tokenizer in {folder} cannot be loaded: {reason}.") from None


NUMBER_INITS = ("random", "digits", "fourier", "fourier-harmonics")
#: "fourier": the periods of the circles each number is placed on (its value mod 10, mod 100, mod 1000)
FOURIER_PERIODS = (10, 100, 1000)
#: "fourier-harmonics" adds the units digit's harmonics (periods 2, 2.5 and 5), the circles that
#: pre-trained LLMs were found to add numbers on (Zhou et al. 2024)
HARMONIC_PERIODS = (2, 2.5, 5) + FOURIER_PERIODS
#: the circles of each scheme that has them
SCHEME_PERIODS = {"fourier": FOURIER_PERIODS, "fourier-harmonics": HARMONIC_PERIODS}


def init_number_embeddings(model, tokenizer, scheme: str) -> int:
    """Give every integer token 0–999 a structured embedding; returns how many rows changed.

    The tokens of the last three digits of numbers of 1,000 or more that begin with 0 (``081`` in
    1081) start as their value's row (81's); the rows of 100–999 already serve both.

    "digits": dimensions 0–9, 10–19 and 20–29 of the row for n hold one-hots of its units, tens and
    hundreds digits (scaled to the norm of a random row), the rest keeps its random init. With tied
    embeddings the same rows score output tokens, so from the first step a number's logit is a sum
    of per-digit scores: the model can learn arithmetic on digits instead of one fact per pair of
    numbers (like Abacus embeddings, McLeish et al. 2024, but inside one token).

    "fourier": the digits, and in dimensions 30–35 the point (cos, sin) of angle 2πn/T for each
    period T in `FOURIER_PERIODS`, as in FoNE (Zhou et al. 2025). Adding or subtracting numbers is
    then rotating each circle, which a gated MLP can compute from the two operands' angles, and
    carries need no separate learning: the mod-100 angle of a+b is the sum of the operands' angles.
    "fourier-harmonics": the same with circles of period 2, 2.5 and 5 first (`HARMONIC_PERIODS`).
    "random": no change. The rows stay trainable, and the model stays a plain HF causal LM.
    """
    if scheme not in NUMBER_INITS:
        raise ArborError(f"unknown number embedding init '{scheme}'; choose one of {', '.join(NUMBER_INITS)}.")
    embeddings = model.get_input_embeddings().weight
    periods = SCHEME_PERIODS.get(scheme, ())
    needed = 30 + 2 * len(periods)
    if scheme == "random" or embeddings.shape[1] < needed:
        return 0
    vocabulary = tokenizer.get_vocab()
    # 0-999, and the last three digits of longer numbers when they begin with 0 (000-099) as their value
    pieces = [(str(n), n) for n in range(1000)] + [(f"{n:03d}", n) for n in range(100)]
    rows = [(vocabulary[piece], n) for piece, n in pieces if piece in vocabulary]
    with torch.no_grad():
        scale = float(embeddings.norm(dim=1).mean()) / 3**0.5  # three ones: the norm of an average row
        for row, number in rows:
            embeddings[row, :30] = 0.0
            for place in range(3):
                embeddings[row, 10 * place + number // 10**place % 10] = scale
            for circle, period in enumerate(periods):
                angle = 2 * math.pi * number / period
                embeddings[row, 30 + 2 * circle : 32 + 2 * circle] = torch.tensor([math.cos(angle), math.sin(angle)]) * scale
    return len(rows)
