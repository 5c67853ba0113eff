"""Warping error, a temporal-consistency measure that needs no ground truth (Lai et al., ECCV 2018, "Learning
Blind Video Temporal Consistency", eq. 8; definition and choices in docs/metrics.md).

The optical flow comes from the SOURCE video (the clip the prediction was made from), not from the prediction:
flicker in the prediction would otherwise bend its own flow and hide itself. For each pair of frames (t, t+1):

    E_t = sum_x M(x) * ||O_{t+1}(x) - O_t(x + B(x))||^2 / sum_x M(x)

with O the video in [0, 1] RGB (the squared norm sums the three channels), B the flow from source frame t+1 to
source frame t (so O_t(x + B(x)) is frame t warped onto frame t+1, bilinear), and M the non-occlusion mask: the
forward-backward check of Sundaram et al. (ECCV 2010), as Ruder et al. use it to build Lai's masks, and the
sample point inside the frame. The video's value is the mean of E_t over its frame pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

CONSISTENCY_REL = 0.01
CONSISTENCY_ABS = 0.5
"""Forward-backward check: consistent where |B + F(x+B)|^2 <= 0.01 (|B|^2 + |F(x+B)|^2) + 0.5 (pixels^2)."""


@dataclass(frozen=True)
class WarpErrorScore:
    prediction: float
    """Mean warping error of the prediction (flow of the source)."""
    source: float
    """The same for the source video itself: the motion's own residual (flow errors, lighting, coding noise)."""
    pairs: int
    """Frame pairs averaged."""

    @property
    def ratio(self) -> float:
        """prediction / source: 1 adds no flicker; 2 doubles the source's own residual."""
        return self.prediction / self.source if self.source > 0 else float("inf")


def dis_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) float32 from RGB uint8 frame `first` to `second`: OpenCV DIS, medium preset."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (first, second)]
    return dis.calc(gray[0], gray[1], None)


def _sample(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`image` sampled at x + flow(x) (bilinear), and where that point lies inside the image."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), inside


def non_occluded(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Mask (H, W) bool on frame t+1's grid: `backward` (t+1 -> t) and `forward` (t -> t+1) agree and the point
    x + B(x) lies inside frame t."""
    forward_there, inside = _sample(forward, backward)
    mismatch = ((backward + forward_there) ** 2).sum(axis=2)
    scale = (backward**2).sum(axis=2) + (forward_there**2).sum(axis=2)
    return inside & (mismatch <= CONSISTENCY_REL * scale + CONSISTENCY_ABS)


def pair_error(previous: np.ndarray, current: np.ndarray, backward: np.ndarray, mask: np.ndarray) -> float:
    """E_t for RGB uint8 frames t (`previous`) and t+1 (`current`), flow `backward` (t+1 -> t) and mask M."""
    warped, _ = _sample(previous.astype(np.float32) / 255.0, backward)
    squared = ((current.astype(np.float32) / 255.0 - warped) ** 2).sum(axis=2)
    count = int(mask.sum())
    # Lai et al.'s code falls back to every pixel when nothing is visible; such a pair is all occlusion.
    return float(squared[mask].sum() / count) if count else float(squared.mean())


def _resized(frames: Iterable[np.ndarray], size: tuple[int, int] | None) -> Iterator[np.ndarray]:
    for frame in frames:
        if size is not None and frame.shape[:2] != size:
            frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        yield frame


def warp_error(prediction: Iterable[np.ndarray], source: Iterable[np.ndarray], flow=dis_flow) -> WarpErrorScore:
    """Warping error of `prediction` and of `source` (RGB uint8 frames, streamed), both with the flow of `source`.

    The frames pair by index; the longer sequence is cut to the shorter. A source of another size is resized
    (area) to the prediction's size before the flow is computed. `flow(a, b)` gives the flow from a to b.
    """
    prediction = iter(prediction)
    first = next(prediction, None)
    if first is None:
        return WarpErrorScore(float("nan"), float("nan"), 0)
    source = _resized(source, first.shape[:2])
    previous_source = next(source, None)
    previous, errors = first, []
    for current, current_source in zip(prediction, source):
        backward = flow(current_source, previous_source)
        mask = non_occluded(backward, flow(previous_source, current_source))
        errors.append(
            (pair_error(previous, current, backward, mask), pair_error(previous_source, current_source, backward, mask))
        )
        previous, previous_source = current, current_source
    if not errors:
        return WarpErrorScore(float("nan"), float("nan"), 0)
    mean = np.mean(errors, axis=0)
    return WarpErrorScore(float(mean[0]), float(mean[1]), len(errors))
