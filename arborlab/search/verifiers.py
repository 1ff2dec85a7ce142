"""Verifiers score completions step by step: the task's own checker (oracle) or a learned PRM/ORM.

A verifier turns a (possibly partial) completion into one score per step line of its think block,
plus one for its outcome when it has ended: the answer's score, or 0 when it ended without one
(cut off at the length limit). `aggregate` folds those scores into the one number a search ranks
by: the last score (Snell et al. 2024 found it best for PRM beam search), the minimum, the product
or the mean.

* `OracleVerifier`: a step scores 1 when the task's step checker finds it valid and still
  solvable, else 0; the outcome scores 1 when the task's verifier accepts the answer.
* `LearnedVerifier`: a scoring model trained by `arbor train prm` (`arborlab.train.prm`), read at
  the end of each step line and at the last token of the answer. A PRM is trained on step labels,
  an ORM on outcome labels only, so an ORM's score is the one at the last position.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from arborlab.errors import ArborError
from arborlab.search.budget import Budget, FlopCounter
from arborlab.search.scorer_cache import IncrementalScorer
from arborlab.tasks import Problem, Task
from arborlab.text import extract_answer, split_steps

AGGREGATES = ("last", "min", "prod", "mean")


def aggregate(scores: Sequence[float], how: str) -> float:
    """One number from a completion's scores; a completion with no step yet scores 0."""
    if how not in AGGREGATES:
        raise ArborError(f"unknown aggregate '{how}'; choose one of {', '.join(AGGREGATES)}.")
    if not scores:
        return 0.0
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    return float(sum(scores) / len(scores))


class OracleVerifier:
    """The task's exact step checker and answer verifier as a verifier (costs no model FLOPs)."""

    name = "oracle"

    def __init__(self, task: Task):
        self.task = task

    def scores(self, problems: Sequence[Problem], texts: Sequence[str], done: Sequence[bool],
               budgets: Sequence[Budget]) -> list[list[float]]:
        """Per completion: a 0/1 score per step line, then its outcome's when done."""
        results = []
        for problem, text, ended in zip(problems, texts, done):
            checks = self.task.check_steps(problem, split_steps(text))
            scores = [float(check.valid and check.solvable) for check in checks]
            if ended:
                scores.append(float(extract_answer(text) is not None and self.task.verify(problem, text).correct))
            results.append(scores)
        return results


class LearnedVerifier:
    """A scoring model (`arborlab.train.prm`) read at step ends and at the answer's last token."""

    def __init__(self, kind: str, folder: Path | str, task: Task, batch_size: int = 64):
        from arborlab.train.prm import load_scorer

        self.name, self.kind = f"{kind}:{folder}", kind
        self.task = task
        self.model, self.tokenizer = load_scorer(folder)
        self.flops = FlopCounter(self.model)
        self.scorer = IncrementalScorer(self.model, batch_size)  # reads only what a trace adds to the last call's
        self.pieces: dict = {}  # encode_trace's memo of prompts and step lines

    def scores(self, problems: Sequence[Problem], texts: Sequence[str], done: Sequence[bool],
               budgets: Sequence[Budget]) -> list[list[float]]:
        """Per completion: the model's score at each step end, then at the answer's end when done."""
        from arborlab.train.prm import encode_trace

        if len(self.pieces) > 100_000:  # a long run's memo: start afresh rather than grow without bound
            self.pieces = {}
        encoded = [encode_trace(self.tokenizer, self.task.prompt(p), t, self.pieces) for p, t in zip(problems, texts)]
        results, cached = self.scorer.scores(encoded)
        for scores, item, read, ended, budget in zip(results, encoded, cached, done, budgets):
            budget.verifier_flops += self.flops.forward(read, len(item.ids))
            if ended and not item.answered:
                scores.append(0.0)  # ended without an answer: cut off at the length limit
        if self.kind == "orm":  # an ORM judges the whole completion at its last position only
            return [scores[-1:] for scores in results]
        return results


def check_verifier(spec: str) -> None:
    """Reject a verifier spec that is not `oracle`, `orm:DIR` or `prm:DIR`."""
    kind, _, folder = spec.partition(":")
    if spec != "oracle" and not (kind in ("orm", "prm") and folder):
        raise ArborError(f"unknown verifier '{spec}'; choose oracle, orm:DIR or prm:DIR.")


def make_verifier(spec: str, task: Task):
    """`oracle`, `orm:DIR` or `prm:DIR` as a verifier."""
    check_verifier(spec)
    if spec == "oracle":
        return OracleVerifier(task)
    kind, _, folder = spec.partition(":")
    return LearnedVerifier(kind, folder, task)
