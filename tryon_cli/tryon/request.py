"""Checking a try-on request before any model or frame decode (issue 14), without torch, so that the CLI can do it
before it imports and builds the engine: where the run writes (`side_paths`), and `check_request`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon_cli.io import (
    GARMENT_MAX_SIDE,
    VideoMeta,
    check_companion_video,
    check_output,
    check_person_video,
    probe_video,
    read_frames,
    read_garment_photo,
    refuse_existing,
)
from tryon_cli.preprocess.garment_landmarks.photo_check import check_garment_photo
from tryon_cli.preprocess.human_pose import check_not_pose_rendering
from tryon_cli.tryon.settings import TryOnSettings

# The videos of OUT_intermediates/, by name: what the engine saw, and the repaint mask in the format --mask reads.
INTERMEDIATES = ("pose", "mask", "agnostic")


def side_paths(output: Path, preview: bool, intermediates: bool) -> tuple[Path | None, Path | None]:
    """Where the preview video and the intermediates folder of `output` go (None when not asked for)."""
    return (
        output.with_name(output.stem + ".preview.mp4") if preview else None,
        output.with_name(output.stem + "_intermediates") if intermediates else None,
    )


@dataclass(frozen=True)
class CheckedRequest:
    """A request whose inputs and outputs passed `check_request`: the garment photo, read, and the video's frames."""

    photo: np.ndarray
    meta: VideoMeta
    start: int
    stop: int


def check_request(video: Path, garment: Path, output: Path, settings: TryOnSettings) -> CheckedRequest:
    """Every check that costs no model and no frame decode, cheapest first, the small inputs before the person video
    (issue 14): outputs, the person video not being a photo, the garment photo, the mask video's probe, the video's
    probe, the range, the mask's length, and then what the garment photo shows (one garment of the category, whole,
    alone on a plain background: a fraction of a second, `check_garment_photo`), and the video's first frame not
    being a rendered pose. Probes are memoised (`probe_video`),
    so the CLI can call this before building the engine at no extra cost."""
    _check_outputs(output, [video, garment, settings.mask], settings)
    check_person_video(video, garment)
    photo = read_garment_photo(garment, GARMENT_MAX_SIDE)
    mask_meta = probe_video(settings.mask) if settings.mask is not None else None
    meta = probe_video(video)
    start, stop = settings.frame_range(meta.frame_count)
    if mask_meta is not None:
        check_companion_video(mask_meta, meta, stop)
    check_garment_photo(photo, settings.category, name=f"garment photo {garment}")
    # Last, and one frame only: a rendered skeleton as the person video, found before the engine and the pose
    # model are loaded (it was found when posing began, 30 s in).
    frames = read_frames(video, 0, 1)
    try:
        check_not_pose_rendering(next(frames), video)
    finally:
        frames.close()
    return CheckedRequest(photo, meta, start, stop)


def check_batch_outputs(output_dir: Path, pairs, settings: TryOnSettings) -> None:
    """--pairs: the output folder, and every pair's outputs against that pair's inputs, before the engine is built
    (the inputs themselves are read pair by pair: a missing one fails that pair only)."""
    check_output(output_dir, kind="folder")
    for pair in pairs:
        _check_outputs(pair.output, [pair.video, pair.garment, settings.mask], settings)


def _check_outputs(output: Path, inputs: list[Path | None], settings: TryOnSettings) -> None:
    """Every path the run writes can be written, none is an input (the intermediates are, with --mask, easily
    fed back in), and none exists unless `settings.overwrite` (a 96-frame result was replaced by a 6-frame test)."""
    preview, intermediates = side_paths(output, settings.preview, settings.keep_intermediates)
    for path in (output, preview):
        if path is not None:
            check_output(path, inputs, kind="video")
    refuse_existing((output, preview, intermediates), settings.overwrite)
    if intermediates is not None:
        check_output(intermediates, kind="folder")
        for name in INTERMEDIATES:
            check_output(intermediates / f"{name}.mp4", inputs, kind="video")
