"""Atomic output: a result appears under its final name complete, or not at all."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` when the block exits cleanly.

    The temporary file lives in the target's folder (so the final rename is atomic on one file system) and keeps the
    target's extension (so ffmpeg and PIL pick the right format from the name). It does not exist yet when yielded.
    On any exception, KeyboardInterrupt included, it is deleted and the target is left untouched. Missing parent
    folders of the target are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
