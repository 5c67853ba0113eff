"""`dpidm train prepare`: compute once, and cache under `<root>/dpidm_prepared/`, what a dataset does not ship.

- Human poses (ViViD ships none; VVT and VITON-HD ship OpenPose JSON, which is used as is): the preprocess
  library's estimator (DWPose when its files are present, else the packaged YOLO pose model), tracked and smoothed.
- Garment landmarks (no dataset ships them): the garment landmark model when present, else the silhouette estimate.
- dpidm's agnostic masks for every clip, from the poses and the frames, per category: the masks `dpidm tryon`
  builds, which training reads by default (`data.masks=dpidm`), so a model is trained on the masks it will be run
  on; a dataset's own masks (ViViD's human-parsing masks) are read only with `data.masks=dataset`.
Everything already cached is skipped, so an interrupted preparation continues where it stopped; masks made by
another version of the mask algorithm (`preprocess.masks.MASK_VERSION`) are not reused but rebuilt.

`unprepared` says, before a training run writes anything, what `dpidm train prepare` has not cached yet;
`pose_facts` names the pose backend and keypoint set the cached poses came from (recorded in checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tryon_cli.data import scan
from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.entries import ClipEntry
from tryon_cli.data.sources import frame_count, shipped_poses, stream_source
from tryon_cli.io import GARMENT_MAX_SIDE, probe_video, read_image
from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks
from tryon_cli.preprocess.human_pose import estimate_video_poses, keypoint_set, load_backend
from tryon_cli.preprocess.masks import agnostic_masks


@dataclass
class PrepareReport:
    clips: int = 0
    poses: int = 0
    masks: int = 0
    garments: int = 0
    notes: list[str] = field(default_factory=list)


def prepare_dataset(
    name: str,
    root: Path,
    split: str = "train",
    pose_backend: str = "auto",
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Fill the cache of dataset `name` at `root`; `progress(done, total)` after each clip."""
    root = Path(root)
    entries = scan(name, root, split)
    cache = PreparedCache(root)
    counts = cache.frame_counts()
    report = PrepareReport(clips=len(entries))
    if cache.drop_stale_masks():
        report.notes.append("the cached masks were made by another version of the mask algorithm: they are rebuilt")
    backend = None
    for done, entry in enumerate(entries, 1):
        poses = None
        if entry.keypoints is None and not cache.pose_path(entry.key).is_file():
            backend = backend or load_backend(pose_backend, device=device)
            fps = probe_video(entry.person).fps if entry.is_video and not entry.person.is_dir() else 25.0
            poses = estimate_video_poses(stream_source(entry.person), backend, fps=fps, source=str(entry.person))
            cache.save_poses(entry.key, poses)
            report.poses += 1
            report.notes += poses.notes
        if not cache.has_masks(entry.key, entry.is_video):
            if poses is None:
                poses = cache.load_poses(entry.key) if entry.keypoints is None else shipped_poses(entry)
            masks = np.stack(list(agnostic_masks(poses, entry.category, frames=stream_source(entry.person))))
            cache.save_masks(entry.key, masks, entry.is_video)
            report.masks += 1
        counts[entry.key] = len(poses) if poses is not None else counts.get(entry.key) or frame_count(entry.person)

        garment_key = cache.garment_key(entry.garment)
        if not cache.garment_path(garment_key).is_file():
            landmarks, notes = detect_garment_landmarks(
                read_image(entry.garment, GARMENT_MAX_SIDE), entry.category, device=device
            )
            cache.save_garment(garment_key, landmarks)
            report.garments += 1
        if progress is not None:
            progress(done, len(entries))
    cache.save_frame_counts(counts)
    return report


def unprepared(name: str, root: Path, entries: list[ClipEntry], masks: str = "dpidm") -> str | None:
    """One line saying what `dpidm train prepare` still has to cache for training on `entries` with masks from
    `masks` ("dpidm" or "dataset"), or None when everything is there."""
    cache = PreparedCache(root)
    lacking = {"poses": 0, "masks": 0, "garment landmarks": 0}
    for entry in entries:
        lacking["poses"] += entry.keypoints is None and not cache.pose_path(entry.key).is_file()
        dpidm_mask = masks == "dpidm" or entry.mask is None
        lacking["masks"] += dpidm_mask and not cache.has_masks(entry.key, entry.is_video)
        lacking["garment landmarks"] += not cache.garment_path(cache.garment_key(entry.garment)).is_file()
    if not any(lacking.values()):
        return None
    what = ", ".join(f"{kind} of {count}" for kind, count in lacking.items() if count)
    return (
        f"the {name} dataset at {root} is not prepared ({what} of its {len(entries)} clips missing): run "
        f"`dpidm train prepare --data {name} --root {root}` first"
    )


def pose_facts(entries: list[ClipEntry], root: Path) -> tuple[str, str]:
    """(pose backend, keypoint set) of the poses training reads: "openpose" for poses a dataset ships, else the
    backend recorded in the first clip's cached poses; the set is "body" (OpenPose-18) or "body+hands+face"."""
    if not entries or entries[0].keypoints is not None:
        return "openpose", "body"
    poses = PreparedCache(root).load_poses(entries[0].key)
    return poses.backend, keypoint_set(poses)
