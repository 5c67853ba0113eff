"""VVT (Dong et al. 2019) as recent video try-on work ships it: `lip_clothes_person/<id>/` (the garment .jpg and a
person .png), `lip_train_frames/<id>/*.png` / `lip_test_frames/<id>/*.png` (256x192) and
`lip_{train,test}_frames_keypoint/<id>/<frame>_keypoints.json` (OpenPose). The older FW-GAN release
(`train/train_frames/<id>/`, `train/train_frames_keypoint/`, `clothes_person/img/<id>/`) is read too.

Training is paired: each clip with the garment its person wears. VVT ships no agnostic masks:
`dpidm train prepare` computes them, and garment landmarks.
"""

from __future__ import annotations

from pathlib import Path

from tryon_cli.data.entries import ClipEntry, require_dir
from tryon_cli.errors import InputError


def _layout(root: Path, split: str) -> tuple[Path, Path, Path]:
    """(frames, keypoints, clothes) folders of the split, in whichever release layout `root` holds."""
    if (root / f"lip_{split}_frames").is_dir():
        return root / f"lip_{split}_frames", root / f"lip_{split}_frames_keypoint", root / "lip_clothes_person"
    if (root / split / f"{split}_frames").is_dir():
        return (
            root / split / f"{split}_frames",
            root / split / f"{split}_frames_keypoint",
            root / "clothes_person" / "img",
        )
    raise InputError(
        f"not a VVT root: expected the folder {root / f'lip_{split}_frames'} (or {root / split / f'{split}_frames'})"
    )


def _garment_of(folder: Path) -> Path:
    """The garment photo of a `lip_clothes_person/<id>/` folder: the .jpg (the person photo is a .png)."""
    jpgs = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not jpgs:
        raise InputError(f"no garment .jpg in {folder}")
    cloth = [p for p in jpgs if "cloth" in p.name]
    return (cloth or jpgs)[0]


def scan_vvt(root: Path, split: str = "train") -> list[ClipEntry]:
    root = require_dir(Path(root), "VVT root")
    frames, keypoints, clothes = _layout(root, split)
    require_dir(clothes, "VVT garment folder")
    entries = []
    for clip in sorted(p for p in frames.iterdir() if p.is_dir()):
        garment_dir = require_dir(clothes / clip.name, f"VVT garment folder of clip {clip.name}")
        entries.append(
            ClipEntry(
                key=str(clip.relative_to(root)),
                person=clip,
                garment=_garment_of(garment_dir),
                category="upper",
                keypoints=keypoints / clip.name if (keypoints / clip.name).is_dir() else None,
            )
        )
    if not entries:
        raise InputError(f"no frame folders under {frames}")
    return entries
