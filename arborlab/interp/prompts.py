"""Task-aware inputs for the studies: prompts that stop where the answer begins, and answer tokens.

A toy model trained on direct traces reads ``<bos> prompt \\n <think>\\n</think><answer>`` and then
writes its answer, so the logits at the last position of `answer_prompt_ids` decide it. Tasks whose
answer is one of two words (compare: ``yes``/``no``) give a logit difference to study.
"""

from __future__ import annotations

from typing import Sequence

import torch

from arborlab.errors import ArborError
from arborlab.tasks import Problem, Task
from arborlab.text import ANSWER_CLOSE, format_trace
from arborlab.train.batches import prompt_ids

ANSWER_START = format_trace([], "")[: -len(ANSWER_CLOSE)]  # "<think>\n</think><answer>"
TWO_WAY_ANSWERS = {"compare": ("yes", "no")}


def answer_prompt_ids(tokenizer, task: Task, problems: Sequence[Problem]) -> torch.Tensor:
    """Token ids ``[batch, pos]`` of each problem's prompt followed by an empty think block and ``<answer>``.

    All problems must give prompts of one length (a batch has no padding), as minimal pairs and
    sweeps over numbers below 1,000 do with the word-level tokenizer.
    """
    tail = tokenizer(ANSWER_START, add_special_tokens=False)["input_ids"]
    rows = [prompt_ids(tokenizer, task.prompt(problem)) + tail for problem in problems]
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise ArborError(
            f"these {task.name} prompts tokenize to {len(lengths)} different lengths ({lengths[0]} to {lengths[-1]} tokens); "
            "choose problems whose prompts have one length (e.g. numbers below 1000)."
        )
    return torch.tensor(rows, dtype=torch.long)


def answer_words(task: Task) -> tuple[str, str]:
    """The two answers of a yes/no-like task, the one a logit difference favours first."""
    if task.name not in TWO_WAY_ANSWERS:
        raise ArborError(
            f"task '{task.name}' has open-ended answers; logit differences need a two-way task ({', '.join(TWO_WAY_ANSWERS)})."
        )
    return TWO_WAY_ANSWERS[task.name]


def answer_token(tokenizer, word: str) -> int:
    """The id of `word`, which must be one token of the tokenizer."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ArborError(f"the answer '{word}' is {len(ids)} tokens for this tokenizer, but a logit difference needs one.")
    return ids[0]


def answer_tokens(tokenizer, task: Task, problems: Sequence[Problem]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(correct [batch], wrong [batch])`` answer token ids of a two-way task's problems."""
    first, second = answer_words(task)
    ids = {first: answer_token(tokenizer, first), second: answer_token(tokenizer, second)}
    correct = [task.solve(problem) for problem in problems]
    wrong = [second if answer == first else first for answer in correct]
    return torch.tensor([ids[a] for a in correct]), torch.tensor([ids[a] for a in wrong])


def logit_diff(logits: torch.Tensor, good: torch.Tensor, bad: torch.Tensor, pos: int = -1) -> torch.Tensor:
    """``logit[good] - logit[bad]`` at position `pos`, ``[batch]``, from logits ``[batch, pos, d_vocab]``."""
    last = logits[:, pos]
    return last.gather(-1, good[:, None])[:, 0] - last.gather(-1, bad[:, None])[:, 0]
