"""The one trace format every task and model shares.

A completion is ``<think>`` + one reasoning step per line + ``</think><answer>ANSWER</answer>``::

    <think>
    5*4=20, left 6 20, target 24
    20+6=26, left 26, target 24
    </think><answer>(5*4)+6</answer>

A direct (answer-only) completion has an empty think block.
"""

from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def format_trace(steps: list[str], answer: str) -> str:
    """Join reasoning steps and an answer into one completion string."""
    for step in steps:
        if "\n" in step:
            raise ValueError(f"a step must be one line, got {step!r}")
    body = "".join(step + "\n" for step in steps)
    return f"{THINK_OPEN}\n{body}{THINK_CLOSE}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def split_steps(text: str) -> list[str]:
    """The step lines of a (possibly partial) completion.

    Reads from after ``<think>`` (or from the start when it is absent) up to ``</think>`` (or the
    end), so a trace cut off mid-way still yields the steps written so far. Blank lines are dropped.
    """
    start = text.find(THINK_OPEN)
    body = text[start + len(THINK_OPEN):] if start >= 0 else text
    end = body.find(THINK_CLOSE)
    if end >= 0:
        body = body[:end]
    else:
        answer_at = body.find(ANSWER_OPEN)
        if answer_at >= 0:
            body = body[:answer_at]
    return [line.strip() for line in body.split("\n") if line.strip()]


def extract_answer(text: str) -> str | None:
    """The text inside the last ``<answer>…</answer>``, stripped; None when there is none."""
    start = text.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    end = text.find(ANSWER_CLOSE, start)
    if end < 0:
        return None
    return text[start + len(ANSWER_OPEN):end].strip()


def answer_text(text: str) -> str:
    """What a grader should judge: the tagged answer when tags are present, else the whole text."""
    if ANSWER_OPEN in text:
        inner = extract_answer(text)
        return inner if inner is not None else ""
    return text.strip()
