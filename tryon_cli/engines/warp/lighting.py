"""The scene's lighting change since the clip's first frame, followed along the optical flow.

The new garment takes over the scene's lighting changes (a cloud, a lamp switched on): it is multiplied by how
much brighter the scene is now than at the first frame. That change is measured on the same points of the scene
frame to frame: every pixel outside the repaint mask in frame t-1 is followed by the flow into frame t, the median
of log(grey_t / grey_t-1) over them is this frame's change, and the changes add up. A median over moving points
sees the light, not what passes through the crop.

Before, the scene's brightness was the median grey of the crop's box outside the mask over the first frame's: on
the 3DV-TON dress clip it swung by 10-25% between consecutive frames as the dark legs, hair and bag moved through
the box in front of a white wall, the light being steady, and the pink print flickered with it (warping error
33.5x the source's; with this 24.6x, docs/warp_engine.md "Temporal stability").
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.motion import CropMotion

SAMPLE_STEP = 4  # every 4th pixel each way outside the mask: thousands of points, a few ms
FLOOR = 8.0  # grey levels added to both sides of the ratio: a dark pixel's coding noise is no lighting change
# Grey levels between which a pixel's change is measured: a pixel clipped at black or white cannot show it.
UNCLIPPED = (16.0, 240.0)
MIN_POINTS = 50  # points a frame's change needs; with fewer (the mask fills the crop) the lighting stays
RANGE = (0.7, 1.3)  # how far the scene's lighting may change the garment's brightness


class SceneLighting:
    """Per-video state: the scene's brightness now over the first frame's (1 = unchanged), within `RANGE`."""

    def __init__(self, motion: CropMotion) -> None:
        self.motion = motion
        self._log = 0.0
        self._outside: np.ndarray | None = None  # last frame's pixels outside the mask

    def __call__(self, mask: np.ndarray) -> float:
        """This frame's lighting, from the flow between the last crop and this one; `mask` (bool): this frame's
        repaint mask (its pixels are the person's garment, not the scene)."""
        motion, outside = self.motion, self._outside
        if motion.flow is not None and outside is not None and outside.shape == mask.shape:
            change = _change(motion, outside)
            if change is not None:
                self._log = float(np.clip(self._log + change, *np.log(RANGE)))
        self._outside = ~mask
        return float(np.exp(self._log))


def _change(motion: CropMotion, outside: np.ndarray) -> float | None:
    """The median log brightness change of the points `outside` (bool, frame t-1) followed into frame t."""
    ys, xs = np.nonzero(outside[::SAMPLE_STEP, ::SAMPLE_STEP])
    ys, xs = ys * SAMPLE_STEP, xs * SAMPLE_STEP
    before = motion.previous_gray[ys, xs].astype(np.float32)
    lit = (before >= UNCLIPPED[0]) & (before <= UNCLIPPED[1])
    if lit.sum() < MIN_POINTS:
        return None
    at = motion.moved(np.stack([xs[lit], ys[lit]], axis=1))
    height, width = outside.shape
    inside = (at[:, 0] >= 0) & (at[:, 0] <= width - 1) & (at[:, 1] >= 0) & (at[:, 1] <= height - 1)
    if inside.sum() < MIN_POINTS:
        return None
    at = at[inside]
    after = cv2.remap(motion.gray.astype(np.float32), at[:, 0:1], at[:, 1:2], cv2.INTER_LINEAR)[:, 0]
    before = before[lit][inside]
    measured = (after >= UNCLIPPED[0]) & (after <= UNCLIPPED[1])
    if measured.sum() < MIN_POINTS:
        return None
    return float(np.median(np.log((after[measured] + FLOOR) / (before[measured] + FLOOR))))
