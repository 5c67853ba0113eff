"""The one Rich progress factory of the commands: the same columns (with a time estimate) everywhere."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(console: Console | None = None, *, transient: bool = False, disable: bool = False) -> Progress:
    """A Rich `Progress` with a bar, done/total, elapsed time and estimated time left per task."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=disable,
    )


def note_line(message: str) -> str:
    """A library note as a command prints it: `note: ...`, or the message itself when it is a warning (it was
    printed as `note: warning: ...`)."""
    return message if message.startswith("warning: ") else f"note: {message}"


class StageProgress:
    """The engines' `Progress` on a terminal: one bar per stage; use as a context manager around a run."""

    def __init__(self, console: Console | None = None, enabled: bool = True, check: Callable[[], None] = lambda: None):
        """`check()` runs at every step of every stage (the CLI raises a pending interrupt there)."""
        self.console = console or Console(stderr=True)
        self.bars = progress_bar(self.console, disable=not enabled)
        self.check = check

    def __enter__(self) -> "StageProgress":
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        """A bar for one stage; yields `advance(n=1, total=None)` (a stage may learn its total on the way)."""
        task_id = self.bars.add_task(description, total=total)

        def advance(n: int = 1, total: int | None = None) -> None:
            self.check()
            if total is not None:
                self.bars.update(task_id, total=total)
            self.bars.advance(task_id, n)

        yield advance
        self.check()
        self.bars.update(task_id, completed=self.bars.tasks[task_id].total or 0)

    def note(self, message: str) -> None:
        self.console.print(note_line(message), highlight=False)
