"""What `dpidm eval` compares: the items in the prediction and ground-truth folders, and how they pair up.

A folder holds videos, frame folders (a sub-folder of images, one per frame, as VVT) or images. Items pair by
name: a video or image by its file name without the suffix, a frame folder by its folder name. A pairs file
(`--pairs`) pairs other names, one pair per line, `PRED GT` (file or folder names inside the two folders, with or
without the suffix; `#` starts a comment).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.io import read_frame_folder, read_frames, read_image
from tryon_cli.io.images import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif")


@dataclass(frozen=True)
class Item:
    name: str
    path: Path
    kind: str  # "video", "frames" (a frame folder) or "image"

    def frames(self, limit: int | None = None) -> Iterator[np.ndarray]:
        """RGB uint8 (H, W, 3) frames, streamed, at most `limit`; an image is a one-frame sequence."""
        if self.kind == "video":
            return read_frames(self.path, 0, limit)
        if self.kind == "frames":
            return islice(read_frame_folder(self.path), limit)
        return iter([read_image(self.path)])


def _file_item(path: Path, mode: str) -> Item | None:
    suffix = path.suffix.lower()
    if mode == "video" and suffix in VIDEO_SUFFIXES:
        return Item(path.stem, path, "video")
    if mode == "image" and suffix in IMAGE_SUFFIXES:
        return Item(path.stem, path, "image")
    return None


def list_items(folder: Path, mode: str) -> list[Item]:
    """The items of `folder` for `mode` ("video": videos and frame folders; "image": images), sorted by name;
    a video or image file is a folder of one item."""
    if folder.is_file():
        item = _file_item(folder, mode)
        if item is None:
            wanted = "a video" if mode == "video" else "an image"
            raise InputError(f"{folder} is not {wanted} (--mode {mode}); give a folder or {wanted} file")
        return [item]
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}" if not folder.exists() else f"not a folder: {folder}")
    items = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and _file_item(path, mode) is not None:
            items.append(_file_item(path, mode))
        elif mode == "video" and path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            items.append(Item(path.name, path, "frames"))
    if not items:
        wanted = "videos or frame folders" if mode == "video" else "images"
        raise InputError(f"no {wanted} in {folder} (--mode {mode})")
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"two items named {duplicates[0]!r} in {folder}: names must be unique to pair them")
    return items


def detect_mode(folder: Path) -> str:
    """ "video" when the folder holds videos or frame folders (or is a video), else "image"."""
    for mode in ("video", "image"):
        try:
            list_items(folder, mode)
            return mode
        except InputError:
            if not folder.exists():
                raise
    raise InputError(f"no videos, frame folders or images in {folder}")


def _lookup(items: dict[str, Item], name: str, where: str, line: str) -> Item:
    stem = Path(name).stem if Path(name).suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES else name
    if stem not in items:
        raise InputError(f"{where}: {name!r} is not among the items ({line})")
    return items[stem]


def pair_items(
    pred: list[Item], gt: list[Item], pairs_file: Path | None = None, reference: str = "ground truth"
) -> list[tuple[Item, Item]]:
    """(prediction, reference) pairs: by equal names, or as the pairs file says. Every prediction needs one.
    `reference` names the second side in errors ("ground truth", "source video")."""
    gt_by_name = {item.name: item for item in gt}
    if pairs_file is None:
        missing = [item for item in pred if item.name not in gt_by_name]
        if missing:
            raise InputError(
                f"no {reference} named {missing[0].name!r} for {missing[0].path} ({len(missing)} of "
                f"{len(pred)} predictions unmatched; names must match, or give --pairs FILE)"
            )
        return [(item, gt_by_name[item.name]) for item in pred]
    pred_by_name = {item.name: item for item in pred}
    try:
        lines = pairs_file.read_text().splitlines()
    except OSError as err:
        raise InputError(f"cannot read pairs file {pairs_file}: {err.strerror}") from None
    pairs = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise InputError(f"{pairs_file}:{number}: expected 'PRED GT', got {raw.strip()!r}")
        where = f"{pairs_file}:{number}"
        pairs.append(
            (_lookup(pred_by_name, fields[0], where, "prediction"), _lookup(gt_by_name, fields[1], where, reference))
        )
    if not pairs:
        raise InputError(f"pairs file {pairs_file} names no pairs")
    return pairs
