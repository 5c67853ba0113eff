"""Ctrl-C and SIGTERM in the commands that write videos (tryon, pose, mask): the run unwinds as from Ctrl-C, so its
partial outputs are removed, and ends with one line and exit code 128 + the signal's number."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console


class Interrupts:
    """SIGINT and SIGTERM (a job scheduler stopping the run, `kill`) unwind like Ctrl-C, so partial outputs are
    removed. A KeyboardInterrupt that lands while Python runs an at-fork hook (ffmpeg being started) is swallowed
    there ("Exception ignored"); the signal is remembered and raised again at the next progress step (`check`)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous: dict = {}

    def _interrupt(self, signum, frame):
        self.received = signum
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    def check(self) -> None:
        if self.received is not None:
            raise KeyboardInterrupt(f"stopped by signal {self.received}")

    def __enter__(self) -> "Interrupts":
        self._previous = {signum: signal.signal(signum, self._interrupt) for signum in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


@contextmanager
def interruptible(console: Console, kept: str = "") -> Iterator[Interrupts]:
    """Run the block with `Interrupts`; a signal ends the command with `interrupted (SIGTERM): nothing of the run in
    progress written` (+ `kept`) and exit code 128 + its number. Any error once a signal has come counts as the
    interruption: raised inside a native module's import, the KeyboardInterrupt comes out as that module's
    `ImportError: initialization failed` (ai_edge_litert's, as the warp engine loaded: a traceback and exit 1)."""
    with Interrupts() as interrupts:
        try:
            yield interrupts
        except BaseException as err:
            if interrupts.received is None and not isinstance(err, KeyboardInterrupt):
                raise
            stopped = signal.Signals(interrupts.received or signal.SIGINT)
            console.print(f"interrupted ({stopped.name}): nothing of the run in progress written{kept}")
            raise typer.Exit(128 + stopped.value) from None
