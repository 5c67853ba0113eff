"""`WarpEngine`: dpidm's weights-free try-on engine (ours, not the paper's DPIDM).

It needs no learned weights beyond the pose model: the garment photo's own pixels are cut into parts and warped
onto the person frame by frame, from the correspondence between the garment's landmarks and the person's
keypoints (`dress.GarmentDresser`). A simple, fast classical try-on that any CPU runs; a trained DPIDM
checkpoint replaces it where one exists. Method and choices: docs/warp_engine.md.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from tryon_cli.engines.base import CropClip, Progress
from tryon_cli.engines.warp.dress import GarmentDresser
from tryon_cli.preprocess.conditioning import GarmentInput
from tryon_cli.preprocess.person_segmentation import PersonSegmentation

# Short: ffmpeg shows (and tests read) only the first 256 characters of the mp4 comment.
DESCRIPTION = "dpidm's weights-free warp engine, not the paper's DPIDM"


class WarpEngine:
    """The garment photo warped part by part onto the person (Engine protocol of `engines/base.py`)."""

    name = "warp"
    untrained = False

    def metadata(self) -> dict:
        return {"model": DESCRIPTION, "paper_model": False}

    def generate(self, clip: CropClip, garment: GarmentInput, progress: Progress) -> Iterator[np.ndarray]:
        dresser = GarmentDresser(garment, PersonSegmentation())
        with progress.task("warping", total=clip.num_frames) as advance:
            for frame in clip.frames():
                yield dresser(frame)
                advance()
        left = sorted(dresser.skipped + dresser.unsure)
        if left:
            progress.note(
                f"warp engine: {len(left)} of {clip.num_frames} frames left as they were (no trunk found, nothing "
                f"to repaint, or the garment fitted too little of the trunk to be drawn safely): frames "
                f"{frame_ranges(left)}"
            )


def frame_ranges(frames: list[int]) -> str:
    """'0-3, 7, 9-10' for [0, 1, 2, 3, 7, 9, 10]."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
