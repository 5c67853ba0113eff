"""`VideoCropClip`: the person video seen through its per-frame crops (the `CropClip` of the engine seam).

It holds only kilobytes per frame (the crop boxes, the keypoints and each repaint mask, compressed). Pixels are
streamed: each call of `frames()` (crops, for the engine) or `full_frames()` (source resolution, for paste-back)
decodes the video again. A frame's repaint mask (from the poses and the frames, the agnostic mask, or from the
user's mask video) is computed once, by the first pass that reaches the frame, and read back by every later pass:
on the shipped example the agnostic masks (person segmentation, hands, hair) cost about ten times the decoding
(cProfile of one warm try-on, both passes: 2.8 s against 0.3 s), and paste-back needs the masks the engine was
given.
"""

from __future__ import annotations

import zlib
from contextlib import closing, contextmanager
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
        self._masks = _PackedMasks()

    def poses(self) -> list[FramePose]:
        return [
            conditioning.pose_in_crop(self._poses[t], self.boxes[t], self.height, self.width)
            for t in range(self.num_frames)
        ]

    def full_frames(self) -> Iterator[FullFrame]:
        with closing(self._frames_and_masks()) as pairs:
            for t, (frame, mask) in enumerate(pairs):
                yield FullFrame(t, frame, mask, self.boxes[t], self._poses[t])

    def frames(self) -> Iterator[CropFrame]:
        with closing(self.full_frames()) as full:
            for frame in full:
                yield crop_frame(frame, self.height, self.width)

    def _frames_and_masks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each frame with its repaint mask: the masks an earlier pass has computed are read back; from the first
        frame without one on, the masks are computed from the clip's first frame (the temporal vote and the long
        hair's tracking carry state from frame to frame), kept, and given from that frame on."""
        given = 0
        with self._decoded() as (frames, _, _):
            for frame in frames:
                mask = self._masks.get(given)
                if mask is None:
                    break
                yield frame, mask
                given += 1
            else:
                return
        with self._decoded() as (frames, height, width):
            with closing(self._with_masks(frames, height, width)) as pairs:
                for t, (frame, mask) in enumerate(pairs):
                    self._masks.put(t, mask)
                    if t >= given:
                        yield frame, mask

    @contextmanager
    def _decoded(self) -> Iterator[tuple[Iterator[np.ndarray], int, int]]:
        # Streams are closed here, not left to the garbage collector: closing one stops its ffmpeg, and an
        # interrupt (Ctrl-C, SIGTERM) that arrives then must reach the caller, not vanish in a finaliser.
        with (
            open_video(self.video) as reader,
            closing(reader.frames(self.start, self.start + self.num_frames)) as frames,
        ):
            yield frames, reader.meta.height, reader.meta.width

    def _with_masks(
        self, frames: Iterator[np.ndarray], frame_height: int, frame_width: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.mask_video is None:
            # The agnostic masks read the frames too (long hair is found by its colour): one decode, shared.
            yield from frames_with_masks(self._poses, self.category, frames)
            return
        with closing(read_mask_video(self.mask_video, frame_height, frame_width)) as masks:
            yield from zip(frames, islice(masks, self.start, self.start + self.num_frames))


class _PackedMasks:
    """Repaint masks by frame index, each bit-packed and deflated: 6.5-7.1 KB for the 1080x1920 dancer's agnostic
    masks (0.6 ms to pack, 0.4 to unpack), where the bool array is 2 MB, so a 500-frame clip keeps its masks in a
    few megabytes."""

    def __init__(self) -> None:
        self._packed: dict[int, tuple[bytes, tuple[int, int]]] = {}

    def put(self, index: int, mask: np.ndarray) -> None:
        if index not in self._packed:
            self._packed[index] = zlib.compress(np.packbits(mask).tobytes(), 1), mask.shape

    def get(self, index: int) -> np.ndarray | None:
        if index not in self._packed:
            return None
        packed, shape = self._packed[index]
        bits = np.unpackbits(np.frombuffer(zlib.decompress(packed), np.uint8), count=shape[0] * shape[1])
        return bits.reshape(shape).astype(bool)


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
