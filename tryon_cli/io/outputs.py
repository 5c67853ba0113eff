"""Checking an output path before any work: it can be written, has a suffix we can write, and is no input.

Every command calls `check_output` on each path it will write, first thing, so that a mistake in `-o` costs
milliseconds rather than a whole run, and no command ever replaces one of its own inputs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Literal, Optional

from tryon_cli.errors import InputError

# Containers that hold the H.264 stream VideoWriter encodes (and the AAC or copied audio mux_audio adds).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
# Still images PIL writes without extra plugins.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_SUFFIXES = {"video": VIDEO_SUFFIXES, "image": IMAGE_SUFFIXES, "json": (".json",)}

Kind = Literal["video", "image", "json", "file", "folder"]


def _same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` name one file: equal after resolving symlinks, or one inode (hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _existing_ancestor(path: Path) -> Path:
    for folder in path.absolute().parents:
        if folder.exists():
            return folder
    return Path(path.absolute().anchor)


def _check_writable_folder(folder: Path, shown: Path) -> None:
    """`folder` (or the nearest folder above it that exists, where it would be created) accepts new files."""
    existing = folder if folder.exists() else _existing_ancestor(folder)
    if not existing.is_dir():
        raise InputError(f"cannot write {shown}: {existing} is a file, not a folder")
    # A real probe, not os.access: as root os.access says yes to /proc and to read-only mounts.
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise InputError(f"cannot write {shown}: {existing} does not accept new files ({err.strerror})") from None


def check_output(path: str | Path, inputs: Iterable[Optional[str | Path]] = (), kind: Kind = "video") -> Path:
    """Return `path` as a Path after checking that the command can write it, or raise one-line InputError.

    `kind` "video", "image" or "json" requires a file with a suffix of that kind; "file" any file; "folder" a
    folder (existing or to be created). `inputs` are the command's input files (None entries are skipped): the
    output must not be any of them, whether named directly, through a symlink or as a hard link.
    """
    raw = str(path)
    path = Path(path)
    if kind == "folder":
        if path.exists() and not path.is_dir():
            raise InputError(f"output folder {path} is an existing file; give a folder")
        _check_writable_folder(path, path)
        return path
    if path.is_dir() or raw.endswith(("/", os.sep)):
        example = f"{path.name or 'out'}{_SUFFIXES.get(kind, ('.mp4',))[0]}"
        raise InputError(f"output {raw} is a folder; give a file name (e.g. {Path(raw) / example})")
    if kind in _SUFFIXES:
        allowed = _SUFFIXES[kind]
        if path.suffix.lower() not in allowed:
            said = f"has the suffix {path.suffix}" if path.suffix else "has no suffix"
            raise InputError(f"output {path} {said}; a {kind} output needs one of {', '.join(allowed)}")
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise InputError(f"output {path} is the input {source}: it would be overwritten; choose another name")
    _check_writable_folder(path.parent, path)
    return path


def refuse_existing(paths: Iterable[Optional[str | Path]], overwrite: bool) -> None:
    """An output file or folder that exists is an InputError naming it and --overwrite, unless `overwrite`: a
    96-frame result was once replaced by a 6-frame test without a word. None entries are skipped."""
    if overwrite:
        return
    for path in paths:
        if path is not None and Path(path).exists():
            raise InputError(f"{path} exists; choose another output name, or add --overwrite to replace it")
