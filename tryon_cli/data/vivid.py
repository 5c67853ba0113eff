"""ViViD (Fang et al. 2024): per category `upper_body/`, `lower_body/`, `dresses/`, each with `videos/<id>_detail.mp4`,
`images/<id>_in_xl.jpg`, `agnostic_mask/<id>_detail.mp4` and pair lists `train_pairs.txt` / `test_pairs.txt`
(lines `<id>_detail.mp4 <id>_in_xl.jpg`). The flat demo folder of the ViViD repository (`videos/`, `cloth/`,
`agnostic_mask/` at the root) is read too when it has a pair list.

ViViD ships agnostic masks but no poses: `dpidm train prepare` computes human poses, dpidm's own masks (what training
reads by default, `data.masks=dpidm`) and garment landmarks.
"""

from __future__ import annotations

from pathlib import Path

from tryon_cli.data.entries import ClipEntry, read_pair_list, require_dir, require_file
from tryon_cli.errors import InputError

CATEGORIES = {"upper_body": "upper", "lower_body": "lower", "dresses": "dress"}


def _category_dir(root: Path, folder: Path, category: str, split: str) -> list[ClipEntry]:
    videos = require_dir(folder / "videos", "ViViD videos folder")
    garments = (
        folder / "images"
        if (folder / "images").is_dir()
        else require_dir(folder / "cloth", "ViViD garment folder (images/)")
    )
    masks = require_dir(folder / "agnostic_mask", "ViViD agnostic_mask folder")
    entries = []
    for video_name, garment_name in read_pair_list(folder / f"{split}_pairs.txt"):
        video = require_file(videos / video_name, "ViViD video listed in the pair list")
        entries.append(
            ClipEntry(
                key=str(video.relative_to(root).with_suffix("")),
                person=video,
                garment=require_file(garments / garment_name, "ViViD garment image listed in the pair list"),
                category=category,
                mask=require_file(masks / video_name, "ViViD agnostic mask video"),
            )
        )
    return entries


def scan_vivid(root: Path, split: str = "train") -> list[ClipEntry]:
    """Every (video, garment) pair of the split, over the category folders present under `root`."""
    root = require_dir(Path(root), "ViViD root")
    present = [name for name in CATEGORIES if (root / name).is_dir()]
    if present:
        return [e for name in present for e in _category_dir(root, root / name, CATEGORIES[name], split)]
    if (root / "videos").is_dir():  # the flat demo folder: it needs the pair list the category folders have
        require_file(root / f"{split}_pairs.txt", "ViViD pair list (lines `<video> <garment image>`)")
        return _category_dir(root, root, "upper", split)
    raise InputError(
        f"not a ViViD root: expected {root / 'upper_body'} (or lower_body/, dresses/) holding videos/, images/, "
        f"agnostic_mask/ and {split}_pairs.txt"
    )
