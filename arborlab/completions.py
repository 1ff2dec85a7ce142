"""Text in, text out: sample completions of task prompts with `arborlab.sample`.

Each prompt is encoded as training encodes it (``<bos> prompt \\n``), and sampling stops at the
tokenizer's eos or at ``</answer>``.
"""

from __future__ import annotations

from typing import Sequence

from arborlab.progress import progress_bar
from arborlab.sample import sample
from arborlab.text import ANSWER_CLOSE
from arborlab.train.batches import prompt_ids


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
) -> list[list[str]]:
    """`samples` completions (decoded text) for each prompt, batched by similar prompt length."""
    encoded = [prompt_ids(tokenizer, prompt) for prompt in prompts]
    requests = sorted(((i, s) for i in range(len(prompts)) for s in range(samples)), key=lambda r: len(encoded[r[0]]))
    stop_sequences = [tokenizer(ANSWER_CLOSE, add_special_tokens=False)["input_ids"]]
    stop_ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else None
    texts: list[list[str]] = [[""] * samples for _ in prompts]
    with progress_bar("sampling", total=len(requests), enabled=show_progress, unit="completions") as advance:
        for start in range(0, len(requests), batch_size):
            chunk = requests[start : start + batch_size]
            results = sample(
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
            for (i, s), result in zip(chunk, results):
                texts[i][s] = tokenizer.decode(result.tokens, skip_special_tokens=True)
            advance(len(chunk))
    return texts
