"""One progress bar style for every long job (Rich), drawn on stderr so stdout stays data."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stderr_console = Console(stderr=True)


class RateColumn(ProgressColumn):
    """Items per second, with a unit name."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else "", style="cyan")


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True, unit: str = "items") -> Iterator[Callable[..., None]]:
    """Yield `advance(n=1, status=None, total=None)`; the bar shows done/total, rate, elapsed and remaining time.

    `status`, when given, replaces the text after the description (e.g. a trainer's latest metrics);
    `total`, when given, is the new total (e.g. once a time budget has fixed the number of steps).
    """
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=stderr_console, disable=not enabled) as progress:
        task_id = progress.add_task(description, total=total)

        def advance(n: int = 1, status: str | None = None, total: int | None = None) -> None:
            progress.update(task_id, advance=n, description=f"{description} {status}" if status else None, total=total)

        yield advance
