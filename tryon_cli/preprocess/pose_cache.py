"""The pose cache: each frame's raw detections, kept per video content and backend, filled in as frames are asked for.

What is cached is what the backend returned for a frame (every person's box, score and keypoints, float32 as the
backend gave them), not the tracked and smoothed poses. Tracking and smoothing are cheap and are redone on every
request from these detections, so a cold and a warm cache give bit-identical poses, and a request for frames
10:20 after one for 0:8 runs the backend on the missing frames only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from tryon_cli.io import atomic_output
from tryon_cli.preprocess.keypoints import Detection

CACHE_VERSION = 3
"""Bump when what a backend returns, or how it is stored, changes, so that stale entries are not reused."""
_PARTS = ("hands", "face", "wholebody")  # optional per-person arrays (DWPose gives them, yolo does not)


def cache_dir() -> Path:
    """`$DPIDM_CACHE/pose`, else `~/.cache/dpidm/pose` (following `$XDG_CACHE_HOME`)."""
    if os.environ.get("DPIDM_CACHE"):
        return Path(os.environ["DPIDM_CACHE"]).expanduser() / "pose"
    return Path(os.getenv("XDG_CACHE_HOME", "~/.cache")).expanduser() / "dpidm" / "pose"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DetectionCache:
    """Frame index -> that frame's detections, loaded from and saved to one .npz per (video content, backend).

    With `path=None` it lives in memory only (`--no-cache`).
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.frames: dict[int, list[Detection]] = {}
        self._dirty = False
        if path is not None and path.is_file():
            self.frames = _load(path)

    @classmethod
    def for_video(cls, video: str | Path, backend: str, enabled: bool = True) -> "DetectionCache":
        if not enabled:
            return cls(None)
        return cls(cache_dir() / f"{file_sha256(video)}-{backend}-v{CACHE_VERSION}.npz")

    def __contains__(self, frame: int) -> bool:
        return frame in self.frames

    def __getitem__(self, frame: int) -> list[Detection]:
        return self.frames[frame]

    def __setitem__(self, frame: int, detections: list[Detection]) -> None:
        self.frames[frame] = detections
        self._dirty = True

    def save(self) -> None:
        """Write every frame known so far (atomically: a killed run leaves the previous file)."""
        if self.path is None or not self._dirty:
            return
        with atomic_output(self.path) as temporary:
            _save(self.frames, temporary)
        self._dirty = False


def _save(frames: dict[int, list[Detection]], path: Path) -> None:
    order = sorted(frames)
    people = [d for t in order for d in frames[t]]
    arrays = {
        "frames": np.array(order, np.int64),
        "counts": np.array([len(frames[t]) for t in order], np.int64),
        "boxes": np.array([d.box for d in people], np.float32).reshape(-1, 4),
        "scores": np.array([d.score for d in people], np.float64),  # Python floats: float64 keeps them exactly
        "body": np.array([d.body for d in people], np.float32).reshape(-1, 18, 3),
    }
    for part in _PARTS:
        values = [getattr(d, part) for d in people]
        if values and all(v is not None for v in values):
            arrays[part] = np.stack(values)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, meta=np.array(json.dumps({"version": CACHE_VERSION})), **arrays)


def _load(path: Path) -> dict[int, list[Detection]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    frames, start = {}, 0
    for frame, count in zip(arrays["frames"].tolist(), arrays["counts"].tolist()):
        frames[frame] = [
            Detection(
                box=arrays["boxes"][i],
                score=float(arrays["scores"][i]),
                body=arrays["body"][i],
                **{part: arrays[part][i] for part in _PARTS if part in arrays},
            )
            for i in range(start, start + count)
        ]
        start += count
    return frames
