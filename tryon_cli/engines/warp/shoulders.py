"""The garment's shoulders put on top of the person's, as high as the old garment shows they reach.

A garment's shoulder landmark lies on its top outline; a person's shoulder keypoint is the joint, a shoulder's
thickness lower. Fitted joint to landmark, every top's shoulder line sat inside the body and the old garment showed
above the new sleeves and round the neck (gallery C3's white tee above a black tee's sleeves, C6's grey tee, T4's
green sweater, T1's cardigan).

A fixed lift (0.08 trunk lengths, the median of the shoulder's top above its joint on the person segmentation of
T4, T5 and T6) put the sleeves on the shoulders of T1 and C3, but on T4, leaning into the camera, drew the polo above
her shoulder onto the wall and the hair's edge: the segmentation runs wide of the shoulder there. So the lift is
measured, per side and per frame, on the old garment itself: from the point the garment's shoulder is fitted to
(`skeleton.SHOULDER_INSET` in from the joint), up the trunk's axis, as far as the pixels keep the colour the old
garment has just below that point (a Gaussian in CIELAB, `hair.Colour`), stay inside the repaint mask and on the
segmented person. The wall, the hair kept out of the mask, a bare neck and skin stop it. Measured only while the
upper arm hangs (`ARM_DOWN`): over a raised arm the old sleeve continues the shoulder upward. Each side's lift is
followed by a running mean; the neck is lifted by the mean of the two sides. The torso's cut (`body.below_neck`)
stays just above the neck keypoint under the head, so the chin stays out of reach, and rises beside it to each
side's lift at its shoulder.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.outline import run_length
from tryon_cli.engines.warp.skeleton import SHOULDER_INSET
from tryon_cli.engines.warp.stabilize import follow
from tryon_cli.preprocess.hair import Colour
from tryon_cli.preprocess.keypoints import BODY_INDEX, point, torso_length

J = BODY_INDEX
MAX_LIFT = 0.15
"""The most the shoulders are lifted, in trunk lengths: a shoulder's top is 0.08-0.12 above its joint (the medians
on T4, T6 and T5's segmentation); more is a collar or a hood, not a shoulder."""
SAMPLE_BELOW = 0.06
SAMPLE_RADIUS = 0.04
"""The old garment's colour at a shoulder is learned on the disc of `SAMPLE_RADIUS` trunk lengths centred
`SAMPLE_BELOW` below the point the garment's shoulder is fitted to: inside the garment whatever its print (a local
colour: a sweater's whole chest holds green, orange and blue, and the wall's grey passed as one of them)."""
MIN_SAMPLES = 30
"""Fewer pixels of the mask and the person in that disc: nothing is measured at that side this frame."""
MAX_DISTANCE = 3.0
"""A pixel is the old garment's within 3 standard deviations (Mahalanobis) of that colour."""
SMOOTH = 0.01
"""The frame is blurred by this many trunk lengths (sigma) before the colours are read: a knit's stitches and a
print's edges are not where the garment ends."""
ARM_DOWN = 0.5
"""A side is measured only while its upper arm points down the trunk within 60 degrees (the cosine of the angle to
the trunk's axis above 0.5)."""
LIFT_RATE = 0.2
"""Weight of this frame's lift in its running mean (about 5 frames' memory, as the trunk's widening)."""


class ShoulderLift:
    """Per video: each side's lift, in trunk lengths, as running means; `__call__` gives the body the garment is
    fitted to (the shoulders and the neck lifted) and moves the means on by one frame."""

    def __init__(self) -> None:
        self.lifts = np.full(2, np.nan)  # right, left; NaN until first measured

    def __call__(self, source: np.ndarray, body: np.ndarray, person: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`body` (crop pixels) with its shoulders and neck lifted up the trunk's axis; `source` the crop (RGB),
        `person` and `mask` bool in its pixels."""
        axis = _up(body)
        if axis is None:
            return body
        up, scale = axis
        follow(self.lifts, _measure(source, body, person, mask, up, scale), LIFT_RATE)
        lifted = body.copy()
        lifts = self.now()
        for lift, name in zip((*lifts, lifts.mean()), ("r_shoulder", "l_shoulder", "neck")):
            lifted[J[name], :2] += lift * scale * up
        return lifted

    def now(self) -> np.ndarray:
        """(2,): each side's lift (right, left) in trunk lengths, 0 where never measured."""
        return np.nan_to_num(self.lifts)


def _up(body: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(the unit vector from the hips' midpoint to the shoulders', the trunk length), or None."""
    joints = [point(body, n) for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")]
    scale = torso_length(body)
    if any(j is None for j in joints) or not scale:
        return None
    up = (joints[0] + joints[1] - joints[2] - joints[3]) / 2
    length = float(np.linalg.norm(up))
    return (up / length, scale) if length > 1.0 else None


def _measure(
    source: np.ndarray, body: np.ndarray, person: np.ndarray, mask: np.ndarray, up: np.ndarray, scale: float
) -> np.ndarray:
    """(2,): per side (right, left), how far (trunk lengths, at most `MAX_LIFT`) the old garment reaches above the
    point its shoulder is fitted to, inside `person & mask`; NaN where it is not measured (a raised arm, too few
    samples)."""
    out = np.full(2, np.nan)
    right, left = point(body, "r_shoulder"), point(body, "l_shoulder")
    height, width = mask.shape
    reach = (MAX_LIFT + SAMPLE_BELOW + SAMPLE_RADIUS) * scale
    for side, (joint, other) in enumerate(((right, left), (left, right))):
        elbow = point(body, f"{'rl'[side]}_elbow")
        if elbow is None or np.dot(elbow - joint, -up) < ARM_DOWN * np.linalg.norm(elbow - joint):
            continue
        start = joint + (other - joint) * SHOULDER_INSET
        # Only the window around this shoulder is read.
        x0, y0 = (max(0, int(v - reach)) for v in start)
        x1, y1 = min(width, int(start[0] + reach) + 1), min(height, int(start[1] + reach) + 1)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        sigma = max(0.5, SMOOTH * scale)
        lab = cv2.cvtColor(cv2.GaussianBlur(source[y0:y1, x0:x1], (0, 0), sigma), cv2.COLOR_RGB2LAB)
        lab = lab.astype(np.float32)
        inside = person[y0:y1, x0:x1] & mask[y0:y1, x0:x1]  # only the window's, not the whole crop's
        origin = start - (x0, y0)
        ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0]
        centre = origin - SAMPLE_BELOW * scale * up
        disc = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= (SAMPLE_RADIUS * scale) ** 2
        samples = disc & inside
        if samples.sum() < MIN_SAMPLES:
            continue
        garment = (Colour(lab[samples]).distance(lab) < MAX_DISTANCE) & inside
        out[side] = run_length(garment, origin, up, MAX_LIFT * scale) / scale
    return out
