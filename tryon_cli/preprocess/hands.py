"""The hands: regions a try-on never repaints, from the hand points where the pose has them, else from the forearm.

Conventions as in `preprocess/keypoints.py`: a `FramePose` whose body is OpenPose-18 `(18, 3)` (x, y, confidence)
in frame pixels, and optionally DWPose's hands `(2, 21, 3)` (index 0 = the person's left hand, 1 = the right). The
result, `hand_regions`, is a bool `(height, width)` image in the same pixels (True = hand, keep the source pixel).

A hand with at least `MIN_HAND_POINTS` points is their outline grown by `HAND_POINT_MARGIN`. Without hand points
(the YOLO backend has none) it is a capsule that starts at the wrist and runs on along the forearm's direction for a
hand's length: a hanging, raised or reaching hand continues its forearm; a bent wrist or a fist stays within its
width of that line.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import DRAW_THRESHOLD, FramePose, point, torso_length

HAND_LENGTH = 0.3
"""Wrist to fingertip in trunk lengths (neck to mid-hip): ~19 cm over a ~50 cm trunk, a little more for the wrist
point's own error along the forearm."""
HAND_HALF_WIDTH = 0.08
"""The capsule's radius in trunk lengths: a hand is ~9 cm across with the thumb spread (0.09 each side of its
axis), and the forearm's direction is only a guess of the hand's."""
HAND_POINT_MARGIN = 0.04
"""How far (in trunk lengths) an outline of hand points is grown: the points lie on the fingers' axes."""
MIN_HAND_POINTS = 3
# Hand index in FramePose.hands for each body side (keypoints.py: 0 = the left hand, 1 = the right).
HAND_INDEX = {"l": 0, "r": 1}


def hand_regions(pose: FramePose, height: int, width: int) -> np.ndarray:
    """Both hands of `pose` where they can be placed, bool `(height, width)`; empty without a body scale."""
    image = np.zeros((height, width), np.uint8)
    scale = torso_length(pose.body)
    if scale is None:
        return image > 0
    for side, index in HAND_INDEX.items():
        points = None if pose.hands is None else pose.hands[index]
        points = None if points is None else points[points[:, 2] >= DRAW_THRESHOLD, :2].astype(np.float64)
        if points is not None and len(points) >= MIN_HAND_POINTS:
            hull = cv2.convexHull(np.round(points).astype(np.int32))
            cv2.fillConvexPoly(image, hull, 1)
            cv2.polylines(image, [hull], True, 1, max(1, int(round(2 * HAND_POINT_MARGIN * scale))))
            continue
        wrist, elbow = point(pose.body, f"{side}_wrist"), point(pose.body, f"{side}_elbow")
        if wrist is None or elbow is None or not np.linalg.norm(wrist - elbow) > 0:
            continue
        direction = (wrist - elbow) / np.linalg.norm(wrist - elbow)
        # Round caps: the far one reaches the fingertips, the near one the wrist (where the hand begins), not up a
        # sleeve's cuff: started half a radius behind it, the cuffs on ViViD upper1 were kept (recall 0.931 -> 0.942).
        start = wrist + direction * HAND_HALF_WIDTH * scale
        tip = wrist + direction * (HAND_LENGTH - HAND_HALF_WIDTH) * scale
        thickness = max(1, int(round(2 * HAND_HALF_WIDTH * scale)))
        cv2.line(image, _int(start), _int(tip), 1, thickness)
        for end in (start, tip):
            cv2.circle(image, _int(end), thickness // 2, 1, -1)
    return image > 0


def _int(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))
