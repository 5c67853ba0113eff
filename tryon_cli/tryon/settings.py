"""What a try-on run is asked to do, as one frozen value (bad values raise `errors.SettingError`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import SettingError
from tryon_cli.preprocess.masks import CATEGORIES


@dataclass(frozen=True)
class TryOnSettings:
    """The video side of a run (the engine's own settings, e.g. DDIM steps, belong to the engine)."""

    category: str = "upper"
    mask: Path | None = None  # a mask video (white = repaint) instead of the automatic agnostic mask
    frames: tuple[int, int | None] | None = None  # (start, stop), stop exclusive, None = to the end
    height: int = 512  # the engine's frame size (crop size)
    width: int = 384
    preview: bool = False  # also write OUT.preview.mp4: input crop | garment | output crop
    keep_intermediates: bool = False  # also write OUT_intermediates/{pose,mask,agnostic}.mp4
    weights: Path | None = None  # weights root for the pose and garment-landmark models (default: `weights.root`)
    device: str = "cpu"  # where those models run: "cpu", "cuda[:N]" or "auto" (`human_pose.model_device`)
    overwrite: bool = False  # replace outputs that exist (without it, an existing output is an error)

    def __post_init__(self):
        if self.category not in CATEGORIES:
            raise SettingError("category", f"must be one of {', '.join(CATEGORIES)}, got {self.category!r}")
        if self.height < 8 or self.width < 8:
            raise SettingError("height", f"and width must be at least 8 pixels, got {self.height}x{self.width}")

    def frame_range(self, frame_count: int) -> tuple[int, int]:
        """(start, stop) inside a video of `frame_count` frames; SettingError when outside it."""
        start, stop = self.frames or (0, None)
        stop = frame_count if stop is None else stop
        if not 0 <= start < stop <= frame_count:
            raise SettingError("frames", f"{start}:{stop} is outside the video's {frame_count} frames")
        return start, stop
