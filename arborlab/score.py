"""Grade anyone's model outputs with a task's exact verifier.

Input: JSONL lines ``{"problem": {…task fields…}, "answer": "…"}`` (the answer may be a whole
completion; its ``<answer>`` part is graded). Output: one verdict per input line,
``{"correct": bool, "reason": "…", "line": N}`` (blank lines are skipped; ``line`` says which input
line a verdict is for). A malformed line gets a verdict saying why, and grading goes on.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

from arborlab.errors import ArborError
from arborlab.tasks import Task


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
    return {"correct": verdict.correct, "reason": verdict.reason}


def score_lines(task: Task, lines: Iterable[str]) -> Iterator[dict]:
    """Verdicts for JSONL lines, one per non-blank line, in order."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield score_line(task, line, number)
