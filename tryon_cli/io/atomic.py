"""Atomic output: a result appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tryon_cli.errors import InputError


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` when the block exits cleanly.

    The temporary file lives in the target's folder (so the final rename is atomic on one file system) and keeps the
    target's extension (so ffmpeg and PIL pick the right format from the name). It does not exist yet when yielded.
    On any exception, KeyboardInterrupt included, it is deleted and the target is left untouched. Missing parent
    folders are created (and removed again with it, when still empty); a target that is a folder, or a folder that
    cannot be created, is an InputError.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output {path} is a folder; give a file name")
    created = _make_parent(path)
    temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        _remove_empty(created)
        raise


class OutputGroup:
    """The outputs of one run (a video, its preview, a folder of intermediates): written under temporary names
    beside their targets, then renamed together (`commit`) or all removed (`discard`). See `atomic_outputs`."""

    def __init__(self) -> None:
        self._planned: list[tuple[Path, Path]] = []  # (temporary, target), in the order they were asked for
        self._created: list[Path] = []  # the parent folders made for them

    def file(self, path: str | Path) -> Path:
        """A temporary file name for `path` (not created; same folder and suffix, so the rename is atomic and
        ffmpeg picks the format from the name)."""
        path = Path(path)
        if path.is_dir():
            raise InputError(f"output {path} is a folder; give a file name")
        self._created += _make_parent(path)
        temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
        self._planned.append((temp, path))
        return temp

    def folder(self, path: str | Path) -> Path:
        """A temporary folder (created) that becomes `path`."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise InputError(f"output folder {path} is an existing file; give a folder")
        self._created += _make_parent(path)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        temp.mkdir()
        self._planned.append((temp, path))
        return temp

    def commit(self) -> None:
        """Rename every temporary to its target, the first one asked for last (a run's main output: a resumed
        batch counts a pair as done by it), with SIGINT and SIGTERM held until the renames are over. An older
        target is moved aside first and put back if a rename fails."""
        held = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        moved_aside: list[tuple[Path, Path]] = []
        done: list[Path] = []
        try:
            for temp, target in reversed(self._planned):
                if target.exists():
                    aside = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
                    os.replace(target, aside)
                    moved_aside.append((aside, target))
                os.replace(temp, target)
                done.append(target)
        except BaseException:
            for target in done:
                _remove(target)
            for aside, target in moved_aside:
                os.replace(aside, target)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for aside, _ in moved_aside:
            _remove(aside)
        self._planned.clear()

    def discard(self) -> None:
        for temp, _ in self._planned:
            _remove(temp)
        _remove_empty(sorted(self._created, key=lambda folder: len(folder.parts), reverse=True))  # inner ones first
        self._planned.clear()
        self._created.clear()


@contextmanager
def atomic_outputs() -> Iterator[OutputGroup]:
    """An `OutputGroup` committed when the block exits cleanly and discarded on any exception (KeyboardInterrupt
    and SIGTERM-as-interrupt included): all of a run's outputs appear together, or none does."""
    group = OutputGroup()
    try:
        yield group
        group.commit()
    except BaseException:
        group.discard()
        raise


def _make_parent(path: Path) -> list[Path]:
    """Create `path`'s missing parent folders; returns those it created, the deepest first, so that a run that
    fails or is interrupted removes them again (`_remove_empty`) and leaves nothing behind."""
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder {path.parent}: {err.strerror}") from None
    return missing


def _remove_empty(folders) -> None:
    """Remove each folder, in the order given, if it is empty (something else put there since stays)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
