"""Training data: the VVT, ViViD and VITON-HD layouts, augmentations, and the image-video joint sampler."""

from __future__ import annotations

from pathlib import Path

from tryon_cli.data.entries import ClipEntry
from tryon_cli.data.vitonhd import scan_vitonhd
from tryon_cli.data.vivid import scan_vivid
from tryon_cli.data.vvt import scan_vvt
from tryon_cli.errors import InputError

LAYOUTS = {"vivid": scan_vivid, "vvt": scan_vvt, "vitonhd": scan_vitonhd}
VIDEO_LAYOUTS = ("vivid", "vvt")
"""Layouts with clips: trained with alternating image and video steps. VITON-HD trains image steps only."""


def scan(name: str, root: Path, split: str = "train") -> list[ClipEntry]:
    """The entries of dataset `name` (vivid, vvt, vitonhd) under `root`."""
    if name not in LAYOUTS:
        raise InputError(f"unknown dataset {name!r}: choose from {', '.join(LAYOUTS)}")
    return LAYOUTS[name](Path(root), split)
