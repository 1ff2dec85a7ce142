"""Turning trace datasets into padded training batches.

An example is ``<bos> prompt \\n`` followed by the completion and ``<eos>``; the loss falls on the
completion and ``<eos>`` only. Batches group examples of similar length (less padding), and their
order is a function of (seed, epoch), so a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch

IGNORE = -100  # label of positions the loss skips (HF convention)


@dataclass(frozen=True)
class Example:
    """Token ids of one prompt + completion, and how many of them belong to the prompt.

    `targets`, when given, marks exactly which tokens the loss falls on (one flag per id); by
    default it falls on every token after the prompt. `weights`, when given, scales each token's
    loss (one factor per id; see `result_weights`).
    """

    ids: tuple[int, ...]
    n_prompt: int
    targets: tuple[bool, ...] | None = None
    weights: tuple[float, ...] | None = None


def result_weights(ids: Sequence[int], equals_id: int, number_ids: Collection[int], weight: float) -> tuple[float, ...]:
    """One loss factor per id: `weight` on the tokens of each number written right after an ``=``
    (an equation's result, e.g. ``7⁺ 686`` in ``42*183=7686``), 1 elsewhere."""
    factors, in_result = [], False
    for previous, token in zip((None, *ids), ids):
        # a result goes on while number tokens follow it (the token before was then a result token)
        in_result = token in number_ids and (previous == equals_id or in_result)
        factors.append(weight if in_result else 1.0)
    return tuple(factors)


def prompt_text(prompt: str) -> str:
    """What precedes a completion: the task prompt and a newline."""
    return prompt + "\n"


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Ids of ``<bos>`` (when the tokenizer has one) and the prompt text."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + tokenizer(prompt_text(prompt), add_special_tokens=False)["input_ids"]


def encode_example(tokenizer, prompt: str, completion: str) -> Example:
    head = prompt_ids(tokenizer, prompt)
    tail = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return Example(tuple(head + tail), len(head))


def repeat_long(examples: list[Example], min_tokens: int, repeats: int) -> list[Example]:
    """The examples, each of at least `min_tokens` tokens `repeats` times.

    Long search traces are those whose first branches all fail; they are few (about 7% of
    countdown-3's) but hold most of a toy model's errors, so seeing them more often is a curriculum.
    """
    return [example for example in examples for _ in range(repeats if len(example.ids) >= min_tokens else 1)]


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Example indices grouped into batches of similar length, in a (seed, epoch)-determined order.

    Shuffles, sorts windows of 50 batches by length, cuts them into batches, then shuffles batches.
    """
    rng = random.Random(f"batches:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = 50 * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors: input_ids, attention_mask and labels, each [batch, pos], and
    loss_weights [batch, pos] when some example has weights (1 where it has none)."""
    width = max(len(e.ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.ids)
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
        if example.targets is None:
            labels[row, example.n_prompt : len(ids)] = ids[example.n_prompt :]
        else:
            flags = torch.tensor(example.targets)
            labels[row, : len(ids)] = torch.where(flags, ids, IGNORE)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    if any(e.weights is not None for e in examples):
        batch["loss_weights"] = torch.ones((len(examples), width))
        for row, example in enumerate(examples):
            if example.weights is not None:
                batch["loss_weights"][row, : len(example.weights)] = torch.tensor(example.weights)
    return batch
