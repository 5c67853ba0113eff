"""Mask videos in and out: a user's mask video read as bool frames, and the ViViD layout (`agnostic_mask/` and
`agnostic/` videos) that `dpidm mask` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.preprocess.masks import apply_agnostic


def read_mask_video(path: str | Path, height: int, width: int) -> Iterator[np.ndarray]:
    """A user's mask video as bool frames of `height` x `width` (white = repaint: brightest channel above 127)."""
    from tryon_cli.io import read_frames

    for frame in read_frames(path):
        gray = frame.max(axis=2)
        if gray.shape != (height, width):
            gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_NEAREST)
        yield gray > 127


def vivid_layout_paths(out_dir: str | Path, stem: str) -> tuple[Path, Path]:
    """Where `write_vivid_layout` puts a video's mask and agnostic video: ViViD's `agnostic_mask/` and `agnostic/`."""
    return Path(out_dir) / "agnostic_mask" / f"{stem}.mp4", Path(out_dir) / "agnostic" / f"{stem}.mp4"


def write_vivid_layout(
    frames: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    out_dir: str | Path,
    stem: str,
    fps: float,
    source: str = "the video",
) -> tuple[Path, Path]:
    """Write `out_dir/agnostic_mask/<stem>.mp4` and `out_dir/agnostic/<stem>.mp4`; returns both paths.

    Both files appear together or not at all (each writer is atomic and both live in one `with`). Raises
    InputError when `masks` and `frames` do not have the same number of frames.
    """
    from contextlib import ExitStack

    from tryon_cli.io import VideoWriter

    mask_path, agnostic_path = vivid_layout_paths(out_dir, stem)
    with ExitStack() as stack:
        mask_writer = stack.enter_context(VideoWriter(mask_path, fps))
        agnostic_writer = stack.enter_context(VideoWriter(agnostic_path, fps))
        mask_iter = iter(masks)
        index = -1
        for index, frame in enumerate(frames):
            mask = next(mask_iter, None)
            if mask is None:
                raise InputError(f"the mask has fewer frames than {source} (it ends before frame {index})")
            mask_writer.write(np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2))
            agnostic_writer.write(apply_agnostic(frame, mask))
        if next(mask_iter, None) is not None:
            raise InputError(f"the mask has more frames than {source} ({index + 1})")
    return mask_path, agnostic_path
