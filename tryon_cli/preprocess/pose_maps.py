"""Pose maps: keypoints drawn as skeleton images, the pose input of DPIDM's pose encoder and adapters.

The human pose and the garment pose go through ONE drawing function with one palette: a garment landmark named
`r_elbow` is drawn with exactly the colour of the human's right elbow, and the limb `r_shoulder-r_elbow` with
the colour of that human limb. That shared encoding is what lets the model match the two poses (paper, sec. 3.3).
The palette and limb list are OpenPose's (as ControlNet and DWPose draw them), so pose maps look like the maps
other try-on and animation models were trained on. Points below the confidence threshold, and limbs with such
an end, are simply not drawn (the paper drops keypoints at random in training; a missing point is a gap).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import DRAW_THRESHOLD, FramePose, GarmentLandmarks

# OpenPose-18 limbs as (start, end) indices, and one colour per keypoint / per limb (RGB), in OpenPose's order.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
)
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
)
LIMB_SHADE = 0.6
"""Limbs are drawn at 60% of their colour, as OpenPose renders them blended over black."""

HAND_EDGES: tuple[tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * finger + j - 1, 1 + 4 * finger + j) for finger in range(5) for j in range(4)
)
"""The 20 bones of the 21-point hand: wrist (0) to each finger's four joints."""


def _hand_edge_colors() -> list[tuple[int, int, int]]:
    colors = []
    for i in range(len(HAND_EDGES)):
        hsv = np.uint8([[[round(179 * i / len(HAND_EDGES)), 255, 255]]])
        colors.append(tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]))
    return colors


HAND_COLORS = _hand_edge_colors()


def _scale(height: int, width: int) -> float:
    """Line widths are OpenPose's at 512 pixels and grow with the image so maps look alike at any size."""
    return max(height, width) / 512.0


def _draw_limb(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, color, stick: float) -> None:
    (xa, ya), (xb, yb) = a, b
    length = math.hypot(xa - xb, ya - yb)
    angle = math.degrees(math.atan2(yb - ya, xb - xa))
    center = (int(round((xa + xb) / 2)), int(round((ya + yb) / 2)))
    polygon = cv2.ellipse2Poly(
        center, (int(round(length / 2)), max(1, int(round(stick)))), int(round(angle)), 0, 360, 1
    )
    cv2.fillConvexPoly(canvas, polygon, color, lineType=cv2.LINE_AA)


def draw_body(canvas: np.ndarray, body: np.ndarray, threshold: float = DRAW_THRESHOLD) -> np.ndarray:
    """Draw an OpenPose-18 `(18, 3)` body onto `canvas` (RGB uint8, modified in place and returned)."""
    scale = _scale(*canvas.shape[:2])
    visible = body[:, 2] >= max(threshold, 1e-6)
    for limb_index, (i, j) in enumerate(LIMBS):
        if visible[i] and visible[j]:
            color = tuple(int(c * LIMB_SHADE) for c in COLORS[limb_index])
            _draw_limb(canvas, body[i, :2], body[j, :2], color, 4 * scale)
    radius = max(1, int(round(4 * scale)))
    for index in np.flatnonzero(visible):
        x, y = body[index, :2]
        cv2.circle(canvas, (int(round(x)), int(round(y))), radius, COLORS[index], -1, lineType=cv2.LINE_AA)
    return canvas


def draw_hands(canvas: np.ndarray, hands: np.ndarray, threshold: float = DRAW_THRESHOLD) -> np.ndarray:
    """Draw `(2, 21, 3)` hands: bones in rainbow colours by bone index, joints as small blue dots."""
    scale = _scale(*canvas.shape[:2])
    thickness = max(1, int(round(2 * scale)))
    for hand in hands:
        visible = hand[:, 2] >= max(threshold, 1e-6)
        for edge_index, (i, j) in enumerate(HAND_EDGES):
            if visible[i] and visible[j]:
                p, q = (tuple(int(round(v)) for v in hand[k, :2]) for k in (i, j))
                cv2.line(canvas, p, q, HAND_COLORS[edge_index], thickness, lineType=cv2.LINE_AA)
        for x, y in hand[visible, :2]:
            cv2.circle(canvas, (int(round(x)), int(round(y))), thickness + 1, (0, 0, 255), -1)
    return canvas


def draw_face(canvas: np.ndarray, face: np.ndarray, threshold: float = DRAW_THRESHOLD) -> np.ndarray:
    """Draw `(68, 3)` face points as white dots."""
    radius = max(1, int(round(1.5 * _scale(*canvas.shape[:2]))))
    for x, y in face[face[:, 2] >= max(threshold, 1e-6), :2]:
        cv2.circle(canvas, (int(round(x)), int(round(y))), radius, (255, 255, 255), -1)
    return canvas


def render_human_pose(
    pose: FramePose | np.ndarray, height: int, width: int, threshold: float = DRAW_THRESHOLD
) -> np.ndarray:
    """A human pose map, uint8 `(height, width, 3)` RGB on black: body, and hands and face when present.

    `pose` is a `FramePose` or a bare `(18, 3)` body array, in pixels of a `height` x `width` frame.
    """
    if isinstance(pose, np.ndarray):
        pose = FramePose(body=pose)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    draw_body(canvas, pose.body, threshold)
    if pose.hands is not None:
        draw_hands(canvas, pose.hands, threshold)
    if pose.face is not None:
        draw_face(canvas, pose.face, threshold)
    return canvas


def render_garment_pose(
    landmarks: GarmentLandmarks, height: int, width: int, threshold: float = DRAW_THRESHOLD
) -> np.ndarray:
    """A garment pose map, uint8 `(height, width, 3)`: each landmark drawn exactly as its human keypoint would be.

    The landmarks are in pixels of the garment image (`landmarks.height` x `landmarks.width`); they are scaled to
    `height` x `width` when those differ (e.g. the model's input size).
    """
    body = landmarks.as_body()
    if landmarks.height and landmarks.width and (landmarks.height, landmarks.width) != (height, width):
        body[:, 0] *= width / landmarks.width
        body[:, 1] *= height / landmarks.height
    return render_human_pose(body, height, width, threshold)


def render_pose_video(poses, threshold: float = DRAW_THRESHOLD):
    """Pose maps of a `PoseSequence`, one uint8 frame at a time (a generator, so long videos stay small)."""
    for frame_pose in poses:
        yield render_human_pose(frame_pose, poses.height, poses.width, threshold)
