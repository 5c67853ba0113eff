"""Reading a clip's frames and shipped keypoints, whatever the source: a video file, a frame folder (VVT) or one
image (VITON-HD)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from tryon_cli.data.annotations import openpose_json_for, read_openpose_json
from tryon_cli.data.entries import ClipEntry, source_kind
from tryon_cli.io import list_frame_folder, probe_video, read_frames, read_image
from tryon_cli.preprocess.keypoints import PoseSequence


def read_source(source: Path, start: int, length: int) -> list[np.ndarray]:
    """Frames start..start+length of a video, a frame folder or (start 0, length 1) a single image."""
    kind = source_kind(source)
    if kind == "folder":
        return [read_image(p) for p in list_frame_folder(source)[start : start + length]]
    return list(read_frames(source, start, start + length)) if kind == "video" else [read_image(source)]


def stream_source(source: Path) -> Iterator[np.ndarray]:
    """Every frame of the source, one at a time."""
    kind = source_kind(source)
    if kind == "folder":
        return (read_image(p) for p in list_frame_folder(source))
    return read_frames(source) if kind == "video" else iter([read_image(source)])


def frame_count(source: Path) -> int:
    kind = source_kind(source)
    if kind == "folder":
        return len(list_frame_folder(source))
    return probe_video(source).frame_count if kind == "video" else 1


def shipped_poses(entry: ClipEntry, start: int = 0, length: int | None = None) -> PoseSequence:
    """The poses a dataset ships as OpenPose JSON (VVT: one file per frame; VITON-HD: one per photo)."""
    if entry.keypoints.is_dir():
        frames = list_frame_folder(entry.person)
        frames = frames[start : None if length is None else start + length]
        body = np.stack([read_openpose_json(openpose_json_for(entry.keypoints, f)) for f in frames])
    else:
        frames = [entry.person]
        body = read_openpose_json(entry.keypoints)[None]
    height, width = read_image(frames[0]).shape[:2]
    return PoseSequence(body=body, height=height, width=width, backend="file")
