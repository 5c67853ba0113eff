"""`VideoCropClip`: the person video seen through its per-frame crops (the `CropClip` of the engine seam).

It holds only kilobytes per frame (the crop boxes and the keypoints). Pixels are streamed: each call of
`frames()` (crops, for the engine) or `full_frames()` (source resolution, for paste-back) decodes the video again
and recomputes each frame's repaint mask, from the poses and the frames (the agnostic mask) or from the user's mask
video.
"""

from __future__ import annotations

from contextlib import ExitStack, closing
from dataclasses import dataclass
from itertools import islice, tee
from pathlib import Path
from typing import Iterator

import numpy as np

from tryon_cli.engines.base import CropFrame
from tryon_cli.io import open_video
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.keypoints import FramePose, PoseSequence
from tryon_cli.preprocess.mask_videos import read_mask_video
from tryon_cli.preprocess.masks import agnostic_masks


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
            decoded = stack.enter_context(closing(reader.frames(self.start, stop)))
            # The agnostic masks read the same frames (long hair is found by its colour), a few ahead of them
            # (the temporal vote's window): one decode, shared.
            frames, for_masks = tee(decoded)
            masks = stack.enter_context(closing(self._masks(reader.meta.height, reader.meta.width, for_masks)))
            for t, (frame, mask) in enumerate(zip(frames, masks)):
                yield FullFrame(t, frame, mask, self.boxes[t], self._poses[t])

    def frames(self) -> Iterator[CropFrame]:
        with closing(self.full_frames()) as full:
            for frame in full:
                yield crop_frame(frame, self.height, self.width)

    def _masks(self, frame_height: int, frame_width: int, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        if self.mask_video is None:
            yield from agnostic_masks(self._poses, self.category, frames=frames)
            return
        with closing(read_mask_video(self.mask_video, frame_height, frame_width)) as masks:
            yield from islice(masks, self.start, self.start + self.num_frames)


def crop_frame(full: FullFrame, height: int, width: int) -> CropFrame:
    """A frame as the engine sees it: the conditioning recipe applied in its crop."""
    source, mask = conditioning.crop_person(full.frame, full.mask, full.box, height, width)
    return CropFrame(
        index=full.index,
        source=source,
        mask=mask,
        agnostic=conditioning.grey_out(source, mask),
        pose=conditioning.pose_in_crop(full.pose, full.box, height, width),
    )
