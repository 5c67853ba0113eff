"""Progress reporting without a terminal: the silent `NullProgress` for library use and tests.

The protocol (`engines.base.Progress`): `with progress.task(description, total) as advance: ... advance()` and
`progress.note(message)`. The Rich implementation for the commands is `tryon_cli.cli.progress.StageProgress`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


class NullProgress:
    """Shows nothing; notes are collected in `notes` so a caller can still read them."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        yield lambda n=1, total=None: None

    def note(self, message: str) -> None:
        self.notes.append(message)
