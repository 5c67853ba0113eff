"""Keypoint layouts and the data types every other area exchanges: `FramePose`, `PoseSequence`, `GarmentLandmarks`.

Conventions (shared with the pipeline and training code):
- Body: OpenPose-18 order (`BODY_NAMES`), float32 `(18, 3)` rows of (x, y, confidence), x and y in pixels of the
  frame, confidence in [0, 1]; confidence 0 means the point is missing (its x, y are meaningless, kept at 0).
- Hands: `(2, 21, 3)`, index 0 = the person's LEFT hand, 1 = the RIGHT hand (the order of COCO-WholeBody and of
  OpenPose's `hand_left_keypoints_2d` / `hand_right_keypoints_2d`); 21 points in OpenPose hand order.
- Face: `(68, 3)`, the iBUG-68 layout shared by COCO-WholeBody and OpenPose's face model.
- "left"/"right" are the person's own sides: a person facing the camera has the right shoulder on the image left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BODY_NAMES: tuple[str, ...] = (
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_eye",
    "l_eye",
    "r_ear",
    "l_ear",
)
BODY_INDEX = {name: i for i, name in enumerate(BODY_NAMES)}

# OpenPose-18 index -> COCO-17 index; the neck (OpenPose 1) has no COCO point and is the shoulders' midpoint.
_COCO17_FOR_OPENPOSE18 = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
_COCO_L_SHOULDER, _COCO_R_SHOULDER = 5, 6

# COCO-WholeBody (133 points, as DWPose predicts them): 0-16 body, 17-22 feet, 23-90 face, 91-111 left hand,
# 112-132 right hand.
WHOLEBODY_FACE = slice(23, 91)
WHOLEBODY_LEFT_HAND = slice(91, 112)
WHOLEBODY_RIGHT_HAND = slice(112, 133)

# Points below this confidence count as not detected: the threshold DWPose and ControlNet draw with.
DRAW_THRESHOLD = 0.3


def coco17_to_openpose18(coco: np.ndarray) -> np.ndarray:
    """`(..., 17, 3)` COCO keypoints -> `(..., 18, 3)` OpenPose-18; neck = midpoint of the shoulders.

    The neck is present only when both shoulders are; its confidence is the lower of the two.
    """
    coco = np.asarray(coco, dtype=np.float32)
    out = np.zeros(coco.shape[:-2] + (18, 3), dtype=np.float32)
    for op_index, coco_index in enumerate(_COCO17_FOR_OPENPOSE18):
        if coco_index is not None:
            out[..., op_index, :] = coco[..., coco_index, :]
    left, right = coco[..., _COCO_L_SHOULDER, :], coco[..., _COCO_R_SHOULDER, :]
    conf = np.minimum(left[..., 2], right[..., 2])
    out[..., 1, :2] = np.where(conf[..., None] > 0, (left[..., :2] + right[..., :2]) / 2, 0)
    out[..., 1, 2] = conf
    return out


def clean(points: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Confidence clipped to [0, 1]; points at or below `threshold` become exact zeros (the 'missing' encoding)."""
    points = np.array(points, dtype=np.float32, copy=True)
    points[..., 2] = np.clip(np.nan_to_num(points[..., 2]), 0.0, 1.0)
    missing = points[..., 2] <= threshold
    points[missing] = 0.0
    return points


def point(body: np.ndarray, name: str) -> np.ndarray | None:
    """A body point's (x, y) as float64, or None when it is missing (confidence below `DRAW_THRESHOLD`)."""
    row = body[BODY_INDEX[name]]
    return row[:2].astype(np.float64) if row[2] >= DRAW_THRESHOLD else None


def pixel(p) -> tuple[int, int]:
    """A point's nearest pixel `(x, y)`, as OpenCV's drawing functions take it."""
    return int(round(p[0])), int(round(p[1]))


def midpoint(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The middle of two points; the one that is present when the other is missing; None when both are."""
    if a is None:
        return b
    if b is None:
        return a
    return (a + b) / 2


def torso_length(body: np.ndarray) -> float | None:
    """Neck to mid-hip distance in pixels, or an estimate from the shoulders or the legs; None without a body.

    The unit of every body proportion in preprocess/ and the warp engine ("trunk lengths")."""
    neck, hip = point(body, "neck"), midpoint(point(body, "r_hip"), point(body, "l_hip"))
    if neck is not None and hip is not None:
        return float(np.linalg.norm(neck - hip))
    rs, ls = point(body, "r_shoulder"), point(body, "l_shoulder")
    if rs is not None and ls is not None:
        return 1.6 * float(np.linalg.norm(rs - ls))
    knee = midpoint(point(body, "r_knee"), point(body, "l_knee"))
    if hip is not None and knee is not None:
        return 1.1 * float(np.linalg.norm(hip - knee))
    return None


SIDE_VIEW = 0.3
"""A body whose shoulders lie closer together than this share of its trunk length is seen from the side
(`seen_from_side`). On the warp engine's gallery each clip's median is 0.42-0.67 (mostly seen from the front); below
0.3 lie its turns to the side: T1 frames 0-10, T3 1-19, T5 103-107, T7 24-50, T6's and C2's turns, C4 30-48, C8
0-15 (bent over)."""


def seen_from_side(body: np.ndarray) -> bool:
    """Whether the body is seen from the side: both shoulders found, closer together than `SIDE_VIEW` trunk
    lengths. Then the far arm's keypoints lie across the trunk, in front of it or behind it, not beside it."""
    right, left, scale = point(body, "r_shoulder"), point(body, "l_shoulder"), torso_length(body)
    if right is None or left is None or scale is None:
        return False
    return bool(np.linalg.norm(right - left) < SIDE_VIEW * scale)


def near_arm(body: np.ndarray) -> str:
    """The side ("r" or "l") of the arm nearer the camera on a body seen from the side: the one its detector is surer
    of (the mean confidence of shoulder, elbow and wrist), as the far one is hidden behind the trunk. On the shipped
    example's side view (frames 0-10) the far arm's joints have 0.32-0.87, the near one's 0.63-0.96, and the near
    arm's mean is the higher in every frame."""
    confidence = {
        side: np.mean([body[BODY_INDEX[f"{side}_{j}"], 2] for j in ("shoulder", "elbow", "wrist")]) for side in "rl"
    }
    return max(confidence, key=confidence.get)


@dataclass
class FramePose:
    """One person in one frame: body `(18, 3)`, optional hands `(2, 21, 3)` and face `(68, 3)`."""

    body: np.ndarray
    hands: np.ndarray | None = None
    face: np.ndarray | None = None

    @property
    def found(self) -> bool:
        return bool((self.body[:, 2] > 0).any())


@dataclass
class PoseSequence:
    """The poses of one person through a video, frame by frame.

    `body (T, 18, 3)`, `hands (T, 2, 21, 3)` or None, `face (T, 68, 3)` or None, in pixels of frames of size
    `height` x `width`. `backend` names the estimator that produced it ("dwpose", "yolo", or "file").
    """

    body: np.ndarray
    height: int
    width: int
    hands: np.ndarray | None = None
    face: np.ndarray | None = None
    backend: str = ""
    fps: float = 0.0
    notes: list[str] = field(default_factory=list)
    """One-line remarks for the user (several people seen, frames without a person)."""
    wholebody: np.ndarray | None = None
    """`(T, 133, 3)` COCO-WholeBody points as DWPose gives them (body, feet, face, hands); None for other backends."""

    def __len__(self) -> int:
        return int(self.body.shape[0])

    def __getitem__(self, t: int) -> FramePose:
        return FramePose(
            body=self.body[t],
            hands=None if self.hands is None else self.hands[t],
            face=None if self.face is None else self.face[t],
        )

    def __iter__(self):
        return (self[t] for t in range(len(self)))

    def found_frames(self) -> np.ndarray:
        """Boolean `(T,)`: frames where at least one body point is present."""
        return (self.body[..., 2] > 0).any(axis=-1)

    def slice(self, start: int, stop: int) -> "PoseSequence":
        pick = slice(start, stop)
        return PoseSequence(
            body=self.body[pick],
            height=self.height,
            width=self.width,
            hands=None if self.hands is None else self.hands[pick],
            face=None if self.face is None else self.face[pick],
            backend=self.backend,
            fps=self.fps,
            notes=list(self.notes),
            wholebody=None if self.wholebody is None else self.wholebody[pick],
        )

    def save(self, path: str | Path) -> None:
        """Write as a compressed .npz (the pose cache format); `load` reads it back exactly."""
        arrays = {"body": self.body, "size": np.array([self.height, self.width]), "fps": np.array(self.fps)}
        if self.hands is not None:
            arrays["hands"] = self.hands
        if self.face is not None:
            arrays["face"] = self.face
        if self.wholebody is not None:
            arrays["wholebody"] = self.wholebody
        meta = json.dumps({"backend": self.backend, "notes": self.notes})
        with open(path, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(meta), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "PoseSequence":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            height, width = (int(v) for v in data["size"])
            return cls(
                body=data["body"].astype(np.float32),
                height=height,
                width=width,
                hands=data["hands"].astype(np.float32) if "hands" in data else None,
                face=data["face"].astype(np.float32) if "face" in data else None,
                backend=meta["backend"],
                fps=float(data["fps"]),
                notes=list(meta["notes"]),
                wholebody=data["wholebody"].astype(np.float32) if "wholebody" in data else None,
            )


@dataclass
class GarmentLandmarks:
    """Landmarks of a garment photo, each named after the OpenPose-18 body keypoint it corresponds to.

    `points (K, 3)` rows of (x, y, confidence) in pixels of the garment image, in the order of `names`;
    confidence 0 = not visible. `estimated` is True when they come from the silhouette heuristic rather than a
    trained landmark model.
    """

    category: str
    names: tuple[str, ...]
    points: np.ndarray
    estimated: bool
    height: int = 0
    width: int = 0

    def as_body(self) -> np.ndarray:
        """The landmarks placed at their OpenPose-18 indices, `(18, 3)`, all other points missing.

        This is what makes a garment pose and a human pose comparable point by point (and drawable alike).
        """
        body = np.zeros((18, 3), dtype=np.float32)
        for name, point in zip(self.names, self.points):
            body[BODY_INDEX[name]] = point
        return body

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "estimated": self.estimated,
            "image_size": [self.width, self.height],
            "landmarks": {
                name: [round(float(x), 2), round(float(y), 2), round(float(c), 4)]
                for name, (x, y, c) in zip(self.names, self.points)
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> "GarmentLandmarks":
        names = tuple(data["landmarks"])
        width, height = data.get("image_size", [0, 0])
        return cls(
            category=data["category"],
            names=names,
            points=np.array([data["landmarks"][n] for n in names], dtype=np.float32).reshape(-1, 3),
            estimated=bool(data["estimated"]),
            height=int(height),
            width=int(width),
        )


@dataclass
class Detection:
    """One person found in one frame by a backend."""

    box: np.ndarray
    score: float
    body: np.ndarray
    hands: np.ndarray | None = None
    face: np.ndarray | None = None
    wholebody: np.ndarray | None = None
    """All 133 COCO-WholeBody points (DWPose only)."""
