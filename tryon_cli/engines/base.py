"""The engine seam: what the video application hands an engine, and what it takes back.

The application (`tryon_cli/tryon/`) does everything that is about the video: reading, pose, crops, masks, the
garment's inputs, paste-back, audio, writing. An engine only turns crop-space conditions into crop-space frames:

    frames out = engine.generate(clip, garment, progress)

`clip` streams `CropFrame`s (each call of `clip.frames()` decodes the video again, so nothing of the whole video
is held in pixels); `garment` is the garment photo prepared once per video (`preprocess.conditioning.GarmentInput`,
part of the recipe shared with training); the engine yields one (H, W, 3) uint8 crop per frame of the clip, in
order, which the application pastes back inside the feathered mask. An engine may iterate `clip.frames()` more
than once (DPIDM encodes every frame before it denoises) or once (the warp engine works frame by frame). A new
engine is a class with these members in its own module under `engines/`, and one entry in `engines/__init__.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ContextManager, Iterator, Protocol

import numpy as np

from tryon_cli.preprocess.conditioning import GarmentInput
from tryon_cli.preprocess.head import Box
from tryon_cli.preprocess.keypoints import FramePose


@dataclass(frozen=True)
class CropFrame:
    """One frame of the clip at the engine's size (`height` x `width`), all in crop pixels."""

    index: int  # 0 = the first frame of the requested range
    source: np.ndarray  # (H, W, 3) uint8: the original frame cut to the person's crop
    mask: np.ndarray  # (H, W) bool: the region to repaint
    agnostic: np.ndarray  # (H, W, 3) uint8: `source` greyed inside `mask` (the conditioning recipe)
    pose: FramePose  # the person's keypoints moved into crop pixels (confidence 0 = missing)
    # Where in the crop a keypoint says where it is: the frame inside its border (`preprocess.head.frame_interior`),
    # in crop pixels. A crop may reach past the frame (padded grey); a point on the frame's edge was put there by
    # the detector and lies at or beyond it. None: the crop's own interior.
    interior: Box | None = None


class CropClip(Protocol):
    """The person video seen through its crops; small per-video state, pixels streamed on demand."""

    num_frames: int
    height: int
    width: int
    fps: float

    def frames(self) -> Iterator[CropFrame]:
        """Every frame of the clip, in order, decoded afresh on each call."""
        ...

    def poses(self) -> list[FramePose]:
        """Every frame's pose in crop pixels (keypoints only: kilobytes per frame)."""
        ...


class Progress(Protocol):
    """Progress reporting: `with progress.task("denoising", total=n) as advance: ... advance()`."""

    def task(self, description: str, total: int | None) -> ContextManager[Callable[..., None]]: ...

    def note(self, message: str) -> None: ...


class Engine(Protocol):
    """Crop-space conditions in, crop-space frames out."""

    name: str  # "dpidm" or "warp": what the output's metadata calls it
    untrained: bool  # True when its output is not a real try-on (random weights)

    def metadata(self) -> dict:
        """What the output's mp4 comment records about this engine and its settings (JSON-serialisable)."""
        ...

    def generate(self, clip: CropClip, garment: GarmentInput, progress: Progress) -> Iterator[np.ndarray]:
        """One (H, W, 3) uint8 crop per frame of `clip`, in order."""
        ...
