"""`dpidm train prepare`: compute once, and cache under `<root>/dpidm_prepared/`, what a dataset does not ship.

- Human poses (ViViD ships none; VVT and VITON-HD ship OpenPose JSON, which is used as is): the preprocess
  library's estimator (DWPose when its files are present, else the packaged YOLO pose model), tracked and smoothed.
- Garment landmarks (no dataset ships them): the garment landmark model when present, else the silhouette estimate.
- Agnostic masks where none are shipped (VVT; VITON-HD's original download): from the poses, per category.
Everything already cached is skipped, so an interrupted preparation continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tryon_cli.data import scan
from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.sources import frame_count, shipped_poses, stream_source
from tryon_cli.io import probe_video, read_image
from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks
from tryon_cli.preprocess.human_pose import estimate_video_poses, load_backend
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
        if entry.mask is None and not cache.mask_path(entry.key, entry.is_video).exists():
            if poses is None:
                poses = cache.load_poses(entry.key) if entry.keypoints is None else shipped_poses(entry)
            masks = np.stack(list(agnostic_masks(poses, entry.category)))
            cache.save_masks(entry.key, masks, entry.is_video)
            report.masks += 1
        counts[entry.key] = len(poses) if poses is not None else counts.get(entry.key) or frame_count(entry.person)

        garment_key = cache.garment_key(entry.garment)
        if not cache.garment_path(garment_key).is_file():
            landmarks, notes = detect_garment_landmarks(read_image(entry.garment), entry.category, device=device)
            cache.save_garment(garment_key, landmarks)
            report.garments += 1
        if progress is not None:
            progress(done, len(entries))
    cache.save_frame_counts(counts)
    return report
