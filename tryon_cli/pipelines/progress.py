"""Rich progress bars for the stages of a long run, and a silent stand-in for library use and tests."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class Stages:
    """One progress bar per stage. Use as a context manager around a run; `task` adds a stage's bar."""

    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not enabled,
        )

    def __enter__(self) -> "Stages":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        """A bar for one stage; yields `advance(n=1)`. A stage of unknown length may set its total on the way."""
        task_id = self.progress.add_task(description, total=total)

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is not None:
                self.progress.update(task_id, total=total)
            self.progress.advance(task_id, n)

        yield advance
        self.progress.update(task_id, completed=self.progress.tasks[task_id].total or 0)
