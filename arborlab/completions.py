"""Text in, text out: sample completions of task prompts with `arborlab.sample`.

Each prompt is encoded as training encodes it (``<bos> prompt \\n``), and sampling stops at the
tokenizer's eos or at ``</answer>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from arborlab.errors import ArborError
from arborlab.journal import Journal
from arborlab.progress import progress_bar
from arborlab.sample import check_arguments, sample
from arborlab.text import ANSWER_CLOSE
from arborlab.train.batches import prompt_ids


@dataclass
class TextCompletion:
    """A decoded completion with its token ids and their log-probabilities (see `sample.Completion`)."""

    text: str
    tokens: list[int]
    logprobs: list[float]
    finish_reason: str


def complete(
    model,
    tokenizer,
    prompts: Sequence[str],
    samples: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 512,
    *,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 64,
    backend: str = "arbor",
    show_progress: bool = False,
    journal: Journal | None = None,
    journal_key: str = "",
) -> list[list[TextCompletion]]:
    """`samples` completions for each prompt, batched by similar prompt length.

    With a `journal` (`arborlab.journal`), each batch is recorded as it ends (under `journal_key`
    and its first request's index), and batches a run before finished are read back, not sampled.
    """
    if backend == "vllm":  # refuse before the progress bar starts, not at the first batch
        from arborlab.sample_vllm import vllm_module

        vllm_module()
    if samples < 1:
        raise ArborError(f"the number of samples per prompt must be at least 1, got {samples}.")
    encoded = [prompt_ids(tokenizer, prompt) for prompt in prompts]
    requests = sorted(((i, s) for i in range(len(prompts)) for s in range(samples)), key=lambda r: len(encoded[r[0]]))
    stop_sequences = [tokenizer(ANSWER_CLOSE, add_special_tokens=False)["input_ids"]]
    check_arguments(model, encoded, max_new_tokens, temperature, top_p, stop_sequences, backend)  # before the bar starts
    stop_ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else None
    results: list[list[TextCompletion | None]] = [[None] * samples for _ in prompts]
    with progress_bar("sampling", total=len(requests), enabled=show_progress, unit="completions") as advance:
        for start in range(0, len(requests), batch_size):
            chunk = requests[start : start + batch_size]

            def sample_chunk() -> list[list]:
                batch = sample(
                    model,
                    [encoded[i] for i, _ in chunk],
                    max_new_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    stop_ids=stop_ids,
                    stop_sequences=stop_sequences,
                    seed=seed + start,
                    backend=backend,
                )
                return [[tokenizer.decode(done.tokens, skip_special_tokens=True), done.tokens, done.logprobs, done.finish_reason]
                        for done in batch]

            written = sample_chunk() if journal is None else journal.piece(f"{journal_key}{start}", sample_chunk)
            for (i, s), fields in zip(chunk, written):
                results[i][s] = TextCompletion(*fields)
            advance(len(chunk))
    return results


def read_prompts(path: Path | str) -> list[str]:
    """Prompts from a text file (one a line) or a JSONL file whose objects have a 'prompt' string."""
    path = Path(path)
    if not path.is_file():
        raise ArborError(f"{path} is not a file.")
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        raise ArborError(f"{path} holds no prompts.")
    if path.suffix != ".jsonl":
        return lines
    prompts = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ArborError(f"line {number} of {path} is not valid JSON.") from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str):
            raise ArborError(f"line {number} of {path} has no 'prompt' string.")
        prompts.append(record["prompt"])
    return prompts
