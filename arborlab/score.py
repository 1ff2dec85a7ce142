"""Grade anyone's model outputs with a task's exact verifier.

Input: JSONL lines ``{"problem": {…task fields…}, "answer": "…"}`` (the answer may be a whole
completion; its ``<answer>`` part is graded). Output: one verdict per input line,
``{"correct": bool, "reason": "…", "line": N}`` (blank lines are skipped; ``line`` says which input
line a verdict is for). A malformed line gets a verdict saying why, and grading goes on.

When the line holds a reasoning trace (a ``completion`` field, or an answer with a ``<think>``
block), the verdict adds ``first_invalid_step``: ``{"index", "step", "reason"}`` of the first step
the task's step checker rejects (and its ``kind``, `Task.step_kind`), or None when every step is
valid: where a wrong answer went wrong. `tally_wrong` sums the wrong answers up by both.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Iterable, Iterator

from arborlab.errors import ArborError
from arborlab.tasks import Task
from arborlab.text import THINK_OPEN, split_steps


def score_line(task: Task, line: str, line_number: int) -> dict:
    """The verdict for one JSONL line, with its line number (never raises for bad input)."""
    verdict = _judge(task, line, line_number)
    verdict["line"] = line_number
    return verdict


def _judge(task: Task, line: str, line_number: int) -> dict:
    where = f"line {line_number}"
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as error:
        return {"correct": False, "reason": f"{where} is not valid JSON ({error.msg if hasattr(error, 'msg') else 'too deeply nested'})"}
    if not isinstance(record, dict) or "problem" not in record or "answer" not in record:
        return {"correct": False, "reason": f"{where} must be an object with 'problem' and 'answer'"}
    if not isinstance(record["answer"], str):
        return {"correct": False, "reason": f"{where}: 'answer' must be a string"}
    try:
        problem = task.validate_problem(record["problem"])
    except ArborError as error:
        return {"correct": False, "reason": f"{where}: {str(error).rstrip('.')}"}
    verdict = task.verify(problem, record["answer"])
    judged = {"correct": verdict.correct, "reason": verdict.reason}
    trace = record.get("completion") if isinstance(record.get("completion"), str) else record["answer"]
    if THINK_OPEN in trace:
        judged["first_invalid_step"] = first_invalid_step(task, problem, trace)
    return judged


def first_invalid_step(task: Task, problem: dict, trace: str) -> dict | None:
    """``{"index", "step", "reason", "kind"}`` of the first step of `trace` the step checker rejects, or None."""
    for check in task.check_steps(problem, split_steps(trace)):
        if not check.valid:
            return {"index": check.index, "step": check.step, "reason": check.reason, "kind": task.step_kind(check.step)}
    return None


def score_lines(task: Task, lines: Iterable[str]) -> Iterator[dict]:
    """Verdicts for JSONL lines, one per non-blank line, in order."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield score_line(task, line, number)


def tally_wrong(verdicts: Iterable[dict]) -> dict:
    """The wrong answers among `verdicts`, counted two ways.

    Returns ``{"total", "wrong", "reasons": {reason: count}, "first_invalid": {kind: count}}``:
    reasons with their numbers written as N (so "evaluates to 55, not 51" and "evaluates to 7, not
    9" count together), and the kind of each wrong trace's first invalid step ("all steps valid"
    when the checker rejects none, "no trace" when the line held none). Most common first.
    """
    total, reasons, kinds = 0, Counter(), Counter()
    for verdict in verdicts:
        total += 1
        if verdict["correct"]:
            continue
        reasons[re.sub(r"\d+", "N", verdict["reason"])] += 1
        if "first_invalid_step" not in verdict:
            kinds["no trace"] += 1
        else:
            step = verdict["first_invalid_step"]
            kinds["all steps valid" if step is None else step["kind"]] += 1
    return {"total": total, "wrong": sum(reasons.values()), "reasons": dict(reasons.most_common()),
            "first_invalid": dict(kinds.most_common())}
