"""Atomic output: a result appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import secrets
import shutil
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
    folders are created; a target that is a folder, or a folder that cannot be created, is an InputError.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output {path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder {path.parent}: {err.strerror}") from None
    temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; it becomes `path` (replacing an older one) when the block exits
    cleanly, and is deleted with everything in it on any exception, KeyboardInterrupt and SIGTERM-as-interrupt
    included. For side outputs written file by file (a run's intermediates), which must not be left half done."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"output folder {path} is an existing file; give a folder")
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        temp.mkdir(parents=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder {path}: {err.strerror}") from None
    try:
        yield temp
        if path.exists():
            shutil.rmtree(path)
        os.replace(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
