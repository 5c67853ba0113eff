"""Where the model looks in each frame: crop boxes at the model's aspect from the person's boxes.

The model sees `height` x `width` (3:4 portrait by default). A person who is small or off-centre in a landscape
video would fill a few pixels of a squashed full frame; instead each frame is cropped around the person. A box
per frame is the bounding box of the confident pose keypoints, grown to take in the head and feet; the crop of a
frame is the union of those boxes over the frames around it (half a window each side), smoothed by a moving
average, grown to the model's aspect. The union keeps limbs that swing out inside the crop; the smoothing
makes the crop move like a slow camera, which the temporal layers take as camera motion rather than jitter.

Choice: crops are per frame, not per window. Windows overlap and average their predictions frame by frame in
one latent video, so a frame must be seen through the same crop by every window that holds it.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

MIN_CONFIDENCE = 0.3
# Keypoint boxes stop at the eyes/ears and the ankles; these margins (fractions of the box height) take in the
# top of the head and the feet, and a little air on each side.
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_SIDE = 0.18, 0.08, 0.10


def keypoint_boxes(body: np.ndarray, min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """(T, 4) boxes x0, y0, x1, y1 around each frame's confident keypoints; NaN where none is confident."""
    boxes = np.full((len(body), 4), np.nan)
    for i, points in enumerate(body):
        ok = points[:, 2] >= min_confidence
        if ok.sum() >= 2:
            xs, ys = points[ok, 0], points[ok, 1]
            boxes[i] = xs.min(), ys.min(), xs.max(), ys.max()
    return boxes


def _fill_missing(boxes: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
    # Frames without a person borrow the nearest detected box; a video without anyone is framed whole.
    found = ~np.isnan(boxes[:, 0])
    if not found.any():
        return np.tile([0.0, 0.0, frame_width, frame_height], (len(boxes), 1))
    idx = np.flatnonzero(found)
    nearest = idx[np.abs(np.arange(len(boxes))[:, None] - idx[None, :]).argmin(axis=1)]
    return boxes[nearest]


def crop_boxes(
    body: np.ndarray, frame_width: int, frame_height: int, height: int, width: int, radius: int = 12
) -> np.ndarray:
    """(T, 4) float crop boxes at aspect `width`:`height` around the person in each frame (see module docstring).

    `body` is the (T, 18, 3) OpenPose-18 keypoints of the video in frame pixels; `radius` frames either side are
    joined and averaged.
    """
    boxes = _fill_missing(keypoint_boxes(body), frame_width, frame_height)
    box_h = boxes[:, 3] - boxes[:, 1]
    boxes = boxes + np.stack([-MARGIN_SIDE * box_h, -MARGIN_TOP * box_h, MARGIN_SIDE * box_h, MARGIN_BOTTOM * box_h], 1)
    size = 2 * radius + 1
    low = minimum_filter1d(boxes[:, :2], size, axis=0, mode="nearest")
    high = maximum_filter1d(boxes[:, 2:], size, axis=0, mode="nearest")
    union = np.concatenate([low, high], axis=1)
    smooth = uniform_filter1d(union, size, axis=0, mode="nearest")
    return fit_aspect(smooth, height / width)


def fit_aspect(boxes: np.ndarray, aspect: float) -> np.ndarray:
    """Boxes grown around their centres to height/width = `aspect` (never shrunk)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    h = np.maximum(np.maximum(h, w * aspect), 1.0)
    w = h / aspect
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
