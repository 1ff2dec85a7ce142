"""Terminal views of problems and traces, with each step marked by the task's step checker."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from arborlab.tasks import Problem, StepCheck, Task
from arborlab.text import extract_answer, split_steps

# marker and style for: invalid step / valid but dead end / valid and still solvable
INVALID, DEAD_END, ON_TRACK = ("✗", "red"), ("·", "yellow"), ("✓", "green")


def step_lines(checks: list[StepCheck]) -> Text:
    """One line per checked step: a marker (✓ on track, · dead end, ✗ invalid), the step, and why if invalid."""
    lines = Text()
    for check in checks:
        marker, style = ON_TRACK if check.valid and check.solvable else DEAD_END if check.valid else INVALID
        lines.append(f" {marker} ", style=f"bold {style}")
        lines.append(check.step, style=None if check.valid else style)
        if not check.valid:
            lines.append(f"   ({check.reason})", style="italic red")
        lines.append("\n")
    return lines


def render_trace(task: Task, problem: Problem, trace: str, title: str = "") -> Panel:
    """A panel with the prompt, the checked steps, the answer and the verifier's verdict."""
    verdict = task.verify(problem, trace)
    checks = task.check_steps(problem, split_steps(trace))
    dead_ends = sum(1 for c in checks if c.valid and not c.solvable)
    header = Text.assemble(("prompt  ", "bold"), task.prompt(problem))
    summary = Text.assemble(
        ("answer  ", "bold"),
        (str(extract_answer(trace)), "bold cyan"),
        ("   ✓ correct" if verdict.correct else "   ✗ wrong", "bold green" if verdict.correct else "bold red"),
        (f" ({verdict.reason})", "dim"),
        (f"\n{len(checks)} steps, {dead_ends} in dead ends", "dim"),
    )
    parts = [header, step_lines(checks), summary] if checks else [header, summary]
    return Panel(Group(*parts), title=title, title_align="left")
