"""What a dataset layout reader returns: one `ClipEntry` per training pair (a person video or image + a garment).

The readers for VVT, ViViD and VITON-HD (`vvt.py`, `vivid.py`, `vitonhd.py`) only find files; reading pixels,
augmenting and rendering pose maps happens once, in `dataset.py`, whatever the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import InputError
from tryon_cli.io.images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ClipEntry:
    """One person clip (or photo) paired with the garment it wears."""

    key: str
    """Unique, filesystem-safe id relative to the dataset root (e.g. `upper_body/videos/00001_detail`); names the
    prepared annotations in the cache."""
    person: Path
    """A video file, a folder of frames, or a single image."""
    garment: Path
    category: str
    """upper, lower or dress."""
    mask: Path | None = None
    """A shipped agnostic mask (video, frame folder or image; white = repaint); None: the prepared cache has one."""
    keypoints: Path | None = None
    """Shipped OpenPose JSON: a folder with one file per frame, or one file for an image; None: prepared cache."""

    @property
    def is_video(self) -> bool:
        return source_kind(self.person) != "image"


def source_kind(path: Path) -> str:
    """'folder' (a frame folder, as in VVT), 'image', or 'video'."""
    if path.is_dir():
        return "folder"
    return "image" if path.suffix.lower() in IMAGE_SUFFIXES else "video"


def require_dir(path: Path, what: str) -> Path:
    """The folder, or an InputError naming where it was expected."""
    if not path.is_dir():
        raise InputError(f"{what} not found: expected the folder {path}")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"{what} not found: expected the file {path}")
    return path


def read_pair_list(path: Path) -> list[tuple[str, str]]:
    """Lines `person garment` (VITON-HD, ViViD); blank lines skipped."""
    pairs = []
    for number, line in enumerate(require_file(path, "pair list").read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise InputError(f"{path}:{number}: expected `person garment`, got {line.strip()!r}")
        pairs.append((fields[0], fields[1]))
    return pairs
