"""Arithmetic drill sheets: the equations of the training traces, shuffled and packed into examples.

A search trace spends most of its tokens on copying and bookkeeping; its arithmetic results (the
number after each ``=``) are about one token in ten, and each sum of two 2-digit numbers turns up
only once or twice in a whole epoch. That is what limits a toy model's accuracy on countdown (its
first wrong step is a wrong sum in 85% of its failures). A drill sheet packs about twenty of the
training traces' own equations into one example, ``a+b=c`` a line, with the loss on the results
only, so a batch carries several times more arithmetic practice for the same tokens. The equations
come from the training split alone, so no held-out problem leaks in.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from arborlab.train.batches import Example

#: an equation as trace lines write it: two operands, an operator, and the result
EQUATION = re.compile(r"(?<![\d.])(\d+)([-+*/])(\d+)=(-?\d+)(?![\d.])")


def trace_equations(completions: Iterable[str]) -> list[tuple[str, str]]:
    """Every equation in `completions`, as (left side with its '=', result) pairs, e.g. ('24+83=', '107')."""
    found = []
    for completion in completions:
        found += [(f"{a}{op}{b}=", result) for a, op, b, result in EQUATION.findall(completion)]
    return found


def drill_examples(tokenizer, equations: list[tuple[str, str]], n_sheets: int, per_sheet: int, seed: int) -> list[Example]:
    """`n_sheets` examples of `per_sheet` equations drawn at random (seeded) from `equations`.

    Each sheet is ``<bos>`` then lines ``left=result\\n``; the loss falls on each result and its
    newline. Returns [] when there are no equations.
    """
    if not equations or n_sheets <= 0:
        return []
    rng = random.Random(f"drill:{seed}")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    encoded: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    sheets = []
    for _ in range(n_sheets):
        ids, targets = list(bos), [False] * len(bos)
        for equation in rng.choices(equations, k=per_sheet):
            if equation not in encoded:
                left, result = equation
                encoded[equation] = (
                    tokenizer(left, add_special_tokens=False)["input_ids"],
                    tokenizer(result + "\n", add_special_tokens=False)["input_ids"],
                )
            left_ids, result_ids = encoded[equation]
            ids += left_ids + result_ids
            targets += [False] * len(left_ids) + [True] * len(result_ids)
        sheets.append(Example(tuple(ids), len(bos), tuple(targets)))
    return sheets
