"""`VideoCropClip`: the person video seen through its per-frame crops (the `CropClip` of the engine seam).

It holds only kilobytes per frame (the crop boxes and the keypoints). Pixels are streamed: each call of
`frames()` (crops, for the engine) or `full_frames()` (source resolution, for paste-back) decodes the video again
and recomputes each frame's repaint mask, from the poses and the frames (the agnostic mask) or from the user's mask
video.
"""

from __future__ import annotations

from contextlib import ExitStack, closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from tryon_cli.engines.base import CropFrame
from tryon_cli.io import open_video
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.keypoints import FramePose, PoseSequence
from tryon_cli.preprocess.mask_videos import read_mask_video
from tryon_cli.preprocess.masks import frames_with_masks


@dataclass(frozen=True)
class FullFrame:
    """One frame at source resolution with what paste-back needs."""

    index: int
    frame: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, True = repaint
    box: np.ndarray  # (4,) crop box in frame pixels
    pose: FramePose  # in frame pixels


class VideoCropClip:
    """Frames start..stop of `video`, cropped to `boxes` at `height` x `width`."""

    def __init__(
        self,
        video: Path,
        start: int,
        poses: PoseSequence,
        boxes: np.ndarray,
        *,
        category: str,
        mask_video: Path | None,
        height: int,
        width: int,
        fps: float,
    ):
        self.video, self.start = Path(video), start
        self.num_frames = len(poses)
        self.height, self.width, self.fps = height, width, fps
        self._poses, self.boxes = poses, boxes
        self.category, self.mask_video = category, mask_video

    def poses(self) -> list[FramePose]:
        return [
            conditioning.pose_in_crop(self._poses[t], self.boxes[t], self.height, self.width)
            for t in range(self.num_frames)
        ]

    def full_frames(self) -> Iterator[FullFrame]:
        stop = self.start + self.num_frames
        with ExitStack() as stack:
            # Streams are closed here, not left to the garbage collector: closing one stops its ffmpeg, and an
            # interrupt (Ctrl-C, SIGTERM) that arrives then must reach the caller, not vanish in a finaliser.
            reader = stack.enter_context(open_video(self.video))
            frames = stack.enter_context(closing(reader.frames(self.start, stop)))
            pairs = stack.enter_context(closing(self._with_masks(frames, reader.meta.height, reader.meta.width)))
            for t, (frame, mask) in enumerate(pairs):
                yield FullFrame(t, frame, mask, self.boxes[t], self._poses[t])

    def frames(self) -> Iterator[CropFrame]:
        with closing(self.full_frames()) as full:
            for frame in full:
                yield crop_frame(frame, self.height, self.width)

    def _with_masks(
        self, frames: Iterator[np.ndarray], frame_height: int, frame_width: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.mask_video is None:
            # The agnostic masks read the frames too (long hair is found by its colour): one decode, shared.
            yield from frames_with_masks(self._poses, self.category, frames)
            return
        with closing(read_mask_video(self.mask_video, frame_height, frame_width)) as masks:
            yield from zip(frames, islice(masks, self.start, self.start + self.num_frames))


def crop_frame(full: FullFrame, height: int, width: int) -> CropFrame:
    """A frame as the engine sees it: the conditioning recipe applied in its crop."""
    source, mask = conditioning.crop_person(full.frame, full.mask, full.box, height, width)
    return CropFrame(
        index=full.index,
        source=source,
        mask=mask,
        agnostic=conditioning.grey_out(source, mask),
        pose=conditioning.pose_in_crop(full.pose, full.box, height, width),
        interior=conditioning.interior_in_crop(*full.frame.shape[:2], full.box, height, width),
    )
