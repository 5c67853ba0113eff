"""VITON-HD (`zalando-hd-resized/`): `train_pairs.txt` / `test_pairs.txt` (lines `person.jpg cloth.jpg`), and in
`train/` and `test/`: `image/`, `cloth/`, `openpose_json/<stem>_keypoints.json` and, where built,
`agnostic-mask/<stem>_mask.png` (the original download lacks it: `dpidm train prepare` builds it in its cache).

Images train without the temporal blocks (a clip of one frame, image phase only).
"""

from __future__ import annotations

from pathlib import Path

from tryon_cli.data.entries import ClipEntry, read_pair_list, require_dir, require_file


def scan_vitonhd(root: Path, split: str = "train") -> list[ClipEntry]:
    root = require_dir(Path(root), "VITON-HD root")
    pairs = read_pair_list(root / f"{split}_pairs.txt")
    folder = require_dir(root / split, f"VITON-HD {split} folder")
    images = require_dir(folder / "image", "VITON-HD person image folder")
    cloth = require_dir(folder / "cloth", "VITON-HD cloth folder")
    keypoints = folder / "openpose_json"
    masks = folder / "agnostic-mask"
    entries = []
    for person_name, cloth_name in pairs:
        person = require_file(images / person_name, "VITON-HD person image listed in the pair list")
        stem = person.stem
        mask = masks / f"{stem}_mask.png"
        pose = keypoints / f"{stem}_keypoints.json"
        entries.append(
            ClipEntry(
                key=f"{split}/image/{stem}",
                person=person,
                garment=require_file(cloth / cloth_name, "VITON-HD cloth image listed in the pair list"),
                category="upper",
                mask=mask if mask.is_file() else None,
                keypoints=pose if pose.is_file() else None,
            )
        )
    return entries
