"""Keypoints that drop out for a frame must not jump the warp: a frame-coherent estimate takes their place.

The poses the engine gets are already tracked, gap-filled (short gaps) and smoothed. What is left: a joint that
is missing for longer, or that the detector loses at the start of a clip. `PoseFiller` remembers where each joint
was last seen relative to the trunk (in a frame spanned by the shoulders' or hips' midpoint, the trunk's
direction and its length) and, when the joint is missing, puts it back there relative to the trunk of the current
frame. A frame without any trunk point reuses the last complete estimate. `follow` is the running mean by which the
engine's measured trackers (the trunk's widening, the shoulders' lift) settle instead of jumping frame to frame.
"""

from __future__ import annotations

import numpy as np

from tryon_cli.preprocess.keypoints import BODY_INDEX, DRAW_THRESHOLD

J = BODY_INDEX
FILLED_CONFIDENCE = DRAW_THRESHOLD  # a filled joint counts as present, at the lowest confidence that does


def _mid(body: np.ndarray, a: str, b: str) -> np.ndarray | None:
    pa, pb = body[J[a]], body[J[b]]
    if pa[2] >= DRAW_THRESHOLD and pb[2] >= DRAW_THRESHOLD:
        return (pa[:2] + pb[:2]) / 2
    return None


def trunk_frame(body: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(origin, 2x2 basis) of the trunk: origin at the shoulders' midpoint, first axis from the right side to the
    left (so it turns round with the person: on a back view a joint seen from the front is put back on its own
    side, not mirrored), second down the image along the trunk, both one trunk length long; None when neither
    shoulders nor hips give it."""
    shoulders, hips = _mid(body, "r_shoulder", "l_shoulder"), _mid(body, "r_hip", "l_hip")
    across = _across(body)
    if shoulders is not None and hips is not None and np.linalg.norm(hips - shoulders) > 1:
        down = hips - shoulders
        side = -_perp(down)
        # Which way is the person's left: the shoulders' (or hips') own direction; facing the camera as default.
        if across is not None and float(across @ side) < 0:
            side = -side
        return shoulders, np.stack([side, down], axis=1)
    # One pair only: its width, times the trunk's usual length-to-width ratio, gives the trunk's length; down is
    # the perpendicular that points down the image (on a back view the pair's direction is reversed, and its
    # plain perpendicular pointed up: the filled joints were mirrored through the hips).
    for a, b, ratio in (("r_shoulder", "l_shoulder", 1.6), ("r_hip", "l_hip", 2.2)):
        centre = _mid(body, a, b)
        if centre is not None and np.linalg.norm(body[J[b], :2] - body[J[a], :2]) > 1:
            width = (body[J[b], :2] - body[J[a], :2]) * ratio
            down = _perp(width) if _perp(width)[1] >= 0 else -_perp(width)
            origin = centre if a.endswith("shoulder") else centre - down
            return origin, np.stack([width, down], axis=1)
    return None


def _across(body: np.ndarray) -> np.ndarray | None:
    """The direction from the right shoulder to the left (the hips' when a shoulder is missing), or None."""
    for a, b in (("r_shoulder", "l_shoulder"), ("r_hip", "l_hip")):
        if body[J[a], 2] >= DRAW_THRESHOLD and body[J[b], 2] >= DRAW_THRESHOLD:
            return body[J[b], :2] - body[J[a], :2]
    return None


def _perp(v: np.ndarray) -> np.ndarray:
    return np.array([-v[1], v[0]])


class PoseFiller:
    """Fills missing joints of successive frames from where they were last seen relative to the trunk."""

    def __init__(self) -> None:
        self.local: dict[int, np.ndarray] = {}  # joint -> its position in the trunk frame when last seen
        self.last: np.ndarray | None = None

    def __call__(self, body: np.ndarray) -> np.ndarray:
        body = np.array(body, dtype=np.float32, copy=True)
        seen = body[:, 2] >= DRAW_THRESHOLD
        frame = trunk_frame(body)
        if frame is None:
            # No trunk: only when no body point at all is seen, the last estimate stands in (a brief dropout).
            return self.last.copy() if self.last is not None and not seen.any() else body
        origin, basis = frame
        inverse = np.linalg.inv(basis)
        for j in range(len(body)):
            if seen[j]:
                self.local[j] = inverse @ (body[j, :2] - origin)
            elif j in self.local:
                body[j] = (*(origin + basis @ self.local[j]), FILLED_CONFIDENCE)
        self.last = body
        return body.copy()


def follow(means: np.ndarray, measured: np.ndarray, rate: float) -> None:
    """Running means per entry, in place: an entry's first measurement (not NaN) starts its mean (NaN until then),
    later ones move it by `rate` towards them; a NaN measurement leaves its mean as it was."""
    seen = ~np.isnan(measured)
    first = seen & np.isnan(means)
    later = seen & ~first
    means[first] = measured[first]
    means[later] += rate * (measured[later] - means[later])
