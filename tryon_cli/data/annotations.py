"""Annotations a dataset ships or `dpidm train prepare` caches: human keypoints, garment landmarks, agnostic masks.

Keypoints are OpenPose-18 (the project's contract: x, y in pixels of the frame, confidence, 0 = missing).
Shipped OpenPose JSON comes as BODY_25 (VITON-HD) or COCO-18 (VVT); both become OpenPose-18 here.

The cache lives in `<root>/dpidm_prepared/`, keyed by a clip's `ClipEntry.key`:
  poses/<key>.npz        a `PoseSequence` (body (T,18,3) [+ hands, face]) in pixels of the source frames
  garments/<key>.json    `GarmentLandmarks` of the garment image `<key>` (its path under the root, no suffix)
  masks/<key>/NNNNNN.png per-frame agnostic masks (white = repaint) of a clip; masks/<key>.png for a photo
  masks/version.json     {"mask_version": N}: the `preprocess.masks.MASK_VERSION` the masks were made with; masks
                         of another version (or none: made before the key existed) are stale and are rebuilt
  frame_counts.json      {clip key: frames}, so that opening a large dataset does not probe every video
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tryon_cli.errors import InputError
from tryon_cli.io import atomic_output
from tryon_cli.preprocess.keypoints import GarmentLandmarks, PoseSequence
from tryon_cli.preprocess.masks import MASK_VERSION

CACHE_DIRNAME = "dpidm_prepared"
MASK_VERSION_FILE = "version.json"

_BODY25_TO_18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)  # drops mid-hip (8) and the feet


def read_openpose_json(path: Path) -> np.ndarray:
    """The first person's body keypoints of an OpenPose JSON file as OpenPose-18 (18, 3) float32."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read OpenPose JSON {path}: {err}") from None
    people = data.get("people") or []
    if not people:
        return np.zeros((18, 3), np.float32)
    person = people[0]
    flat = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
    points = np.asarray(flat, np.float32).reshape(-1, 3)
    if len(points) == 25:
        points = points[list(_BODY25_TO_18)]
    if len(points) != 18:
        raise InputError(f"{path}: expected 18 (COCO) or 25 (BODY_25) keypoints, found {len(points)}")
    return points


def openpose_json_for(folder: Path, frame: Path) -> Path:
    """The keypoint file of `frame` in a VVT-style keypoint folder (`<stem>_keypoints.json` or `<stem>.json`)."""
    for name in (f"{frame.stem}_keypoints.json", f"{frame.stem}.json"):
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"no OpenPose JSON for frame {frame.name}: expected {folder / f'{frame.stem}_keypoints.json'}")


class PreparedCache:
    """Read and write the prepared annotations of one dataset root (formats: `PoseSequence.save`,
    `GarmentLandmarks.to_json`, PNG masks)."""

    def __init__(self, root: Path):
        self.dataset_root = Path(root)
        self.root = self.dataset_root / CACHE_DIRNAME

    def garment_key(self, garment: Path) -> str:
        """The cache key of a garment image: its path under the dataset root, without suffix."""
        return str(Path(garment).relative_to(self.dataset_root).with_suffix(""))

    def pose_path(self, key: str) -> Path:
        return self.root / "poses" / f"{key}.npz"

    def garment_path(self, key: str) -> Path:
        return self.root / "garments" / f"{key}.json"

    def mask_path(self, key: str, is_video: bool) -> Path:
        return self.root / "masks" / (key if is_video else f"{key}.png")

    def has_masks(self, key: str, is_video: bool) -> bool:
        """Whether current masks of `key` are cached: made by this version of the mask algorithm."""
        return self.masks_current() and self.mask_path(key, is_video).exists()

    def masks_current(self) -> bool:
        """Whether the cached masks were made by this version of the mask algorithm (`MASK_VERSION`)."""
        path = self.root / "masks" / MASK_VERSION_FILE
        try:
            return json.loads(path.read_text()).get("mask_version") == MASK_VERSION
        except (OSError, ValueError, AttributeError):
            return False

    def drop_stale_masks(self) -> bool:
        """Delete masks made by another version of the mask algorithm and mark the folder with this version;
        True when there were stale masks."""
        folder = self.root / "masks"
        if self.masks_current():
            return False
        stale = folder.exists() and any(p.name != MASK_VERSION_FILE for p in folder.iterdir())
        shutil.rmtree(folder, ignore_errors=True)
        with atomic_output(_parent_made(folder / MASK_VERSION_FILE)) as tmp:
            Path(tmp).write_text(json.dumps({"mask_version": MASK_VERSION}))
        return stale

    def save_masks(self, key: str, masks: np.ndarray, is_video: bool) -> None:
        """bool (T, H, W) masks as PNGs: a frame folder for a clip (renamed into place whole), one file for a photo.
        They are masks of this version of the mask algorithm: masks of another version are dropped first, so that
        the folder never mixes two."""
        self.drop_stale_masks()
        target = self.mask_path(key, is_video)
        if not is_video:
            with atomic_output(_parent_made(target)) as tmp:
                Image.fromarray(masks[0].astype(np.uint8) * 255).save(tmp, format="PNG")
            return
        staging = _parent_made(target.with_name(target.name + ".partial"))
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for t, mask in enumerate(masks):
            Image.fromarray(mask.astype(np.uint8) * 255).save(staging / f"{t:06d}.png")
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)

    def save_poses(self, key: str, poses: PoseSequence) -> None:
        with atomic_output(_parent_made(self.pose_path(key))) as tmp:
            poses.save(tmp)

    def load_poses(self, key: str) -> PoseSequence:
        path = self.pose_path(key)
        if not path.is_file():
            raise InputError(f"no prepared poses for {key}: expected {path} (run `dpidm train prepare`)")
        return PoseSequence.load(path)

    def save_garment(self, key: str, landmarks: GarmentLandmarks) -> None:
        with atomic_output(_parent_made(self.garment_path(key))) as tmp:
            Path(tmp).write_text(json.dumps(landmarks.to_json()))

    def load_garment(self, key: str) -> GarmentLandmarks:
        path = self.garment_path(key)
        if not path.is_file():
            raise InputError(f"no prepared garment landmarks for {key}: expected {path} (run `dpidm train prepare`)")
        return GarmentLandmarks.from_json(json.loads(path.read_text()))

    def frame_counts(self) -> dict[str, int]:
        path = self.root / "frame_counts.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def save_frame_counts(self, counts: dict[str, int]) -> None:
        with atomic_output(_parent_made(self.root / "frame_counts.json")) as tmp:
            Path(tmp).write_text(json.dumps(counts, indent=0, sort_keys=True))


def _parent_made(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
