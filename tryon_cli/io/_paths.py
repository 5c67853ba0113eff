"""Checks shared by every reader: the input must be an existing, non-empty regular file."""

from __future__ import annotations

from pathlib import Path

from tryon_cli.errors import InputError


def require_file(path: str | Path, kind: str) -> Path:
    """Return `path` as a Path, or raise InputError naming it when it cannot be a `kind` file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{kind} file not found: {path}")
    if path.is_dir():
        raise InputError(f"expected a {kind} file but {path} is a folder")
    if not path.is_file():
        raise InputError(f"expected a {kind} file but {path} is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{kind} file is empty (0 bytes): {path}")
    return path
