"""The engine seam's Progress (`engines/base.py`) on the page's progress bar, fed by the stages the CLI shows."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


class PageProgress:
    """Each stage (`task`) takes over the one bar Gradio draws; notes are kept for the result's status line.

    `bar` is the `gr.Progress` of the running event: called as `bar((done, total), desc=...)`.
    """

    def __init__(self, bar: Callable[..., None]):
        self._bar = bar
        self.notes: list[str] = []

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Callable[..., None]]:
        state = {"done": 0, "total": total}

        def advance(n: int = 1, total: int | None = None) -> None:
            if total is not None:  # a stage of unknown length may learn it on the way, as with the CLI's bars
                state["total"] = total
            state["done"] += n
            self._bar((state["done"], state["total"]), desc=description, unit="")

        self._bar((0, total), desc=description, unit="")  # stages count frames, steps or files
        yield advance

    def note(self, message: str) -> None:
        self.notes.append(message)
