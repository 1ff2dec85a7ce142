"""Turning trace datasets into padded training batches.

An example is ``<bos> prompt \\n`` followed by the completion and ``<eos>``; the loss falls on the
completion and ``<eos>`` only. Batches group examples of similar length (less padding), and their
order is a function of (seed, epoch), so a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

IGNORE = -100  # label of positions the loss skips (HF convention)


@dataclass(frozen=True)
class Example:
    """Token ids of one prompt + completion, and how many of them belong to the prompt.

    `targets`, when given, marks exactly which tokens the loss falls on (one flag per id); by
    default it falls on every token after the prompt.
    """

    ids: tuple[int, ...]
    n_prompt: int
    targets: tuple[bool, ...] | None = None


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
    """Right-padded tensors: input_ids, attention_mask and labels, each [batch, pos]."""
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
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
