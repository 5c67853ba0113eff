"""The warp engine's output made to move as the source moves: everything it draws follows the source's flow.

Why: the warping error (Lai et al. 2018, `metrics/warp_error.py`) asks the output to move as the source moves,
pixel for pixel. Keypoints fitted frame by frame carry the detector's noise (a few crop pixels), and the
garment's high-contrast print and edges turn it into flicker.
So, between consecutive source crops, the optical flow (OpenCV DIS, `CropMotion`) carries:
- each part's map garment -> crop (`MotionTracker`): moved as the least-squares affine through the flow at the
  part's own pixels, then pulled toward that frame's keypoint fit, its position by `PULL` and its shape by
  `SHAPE_PULL` a frame, so it cannot drift off the body or out of shape (a steady offset decays as
  (1 - PULL)^frames), while the motion itself comes from the pixels;
- the body keypoints (`KeypointTracker`), the same way, so the regions drawn from them (the arms kept in front of
  the garment) move with the source too.
Neither may stray far from the detection: past `DRIFT_LIMIT` (a part) or `KEYPOINT_DRIFT` (a joint) it is reined in
(`reined`).
Where the source has no texture (a plain cardigan on a white wall) the flow sees no motion, so there the pull
grows toward 1 and the detection leads (`CropMotion.trust`, Shi-Tomasi's measure): without that, a sleeve over
such cloth stayed behind its arm. Causal: the engine still streams. A part the pose cannot fit in a frame (a
joint lost) keeps following the flow.
Measured effect and the choice of PULL: docs/warp_engine.md ("Temporal stability").
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import DRAW_THRESHOLD, torso_length

# DIS's medium preset, the one the warping error's metric uses: 8.9 ms a flow at 384x512 on 2 threads against 4.8
# ms for the fast one, and with it the print follows the source's motion more closely: warping error on the 3DV-TON
# dress clip 24.6x -> 18.7x the source's (example 30.1x -> 29.6x; docs/warp_engine.md "Temporal stability").
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
PULL = 0.1  # fraction of the way from the flow-carried position to the keypoint fit, per frame
SHAPE_PULL = 0.5  # the same for each part's shape (scale, turn, shear)
# The farthest a part's centre may lie from where this frame's keypoint fit puts it, in crop heights. The pull
# alone lets a steady bias of the flow build up to about bias / PULL: on the 3DV-TON dress clip, as she turns from
# walking to facing the camera, the flow over the black dress carried the trunk up to 19 crop pixels (0.04 of the
# crop's height, an eighth of her trunk's width) to one side for 20 frames, and the dress was drawn on half the body.
DRIFT_LIMIT = 0.015
# The farthest a flow-carried keypoint may lie from its detection (`KeypointTracker`), in trunk lengths
# (`keypoints.torso_length`); beyond it the joint is put back at the limit at once. Without it, on gallery C8 (a man
# dribbling, bent over; a case only checked) the flow of the ball carried his right hip 0.2-0.6 trunk lengths (76
# crop pixels) up his arm while the detector, sure of it, kept it at his waist, and the trunk's fit, made from the
# carried joints, drew the shirt as a slab along the arm. Above what the flow's own corrections need: on the tuning
# clips T1-T3, T5 and T7 the trunk's joints drift at most 0.12 trunk lengths from their detections (T4 0.24, her hip
# behind a hand, T6 0.37 in blurred spins). Held closer (1.5 % of the crop's height, `DRIFT_LIMIT`, by halves) the
# keypoints followed the detector's own error, and the dress on the 3DV-TON clip (T3, walking in profile) slid off
# her back (warping error 13.5x -> 16.9x); at 0.25 trunk lengths by halves, or 0.3 at once, C8's hip still lay 42
# or 23 crop pixels off and the slab stayed.
KEYPOINT_DRIFT = 0.15
# The share of a part's distance beyond `DRIFT_LIMIT` taken back each frame: all of it at once made the garment
# follow the keypoints' jitter where the flow and the fit disagree by a few pixels every frame (the example's
# warping error 22x -> 25x the source's); by halves, a steady bias ends a few pixels past the limit.
EXCESS_PULL = 0.5
# Texture the flow can be trusted on: the structure tensor's smaller eigenvalue (cv2.cornerMinEigenVal, block 9,
# Sobel 3, on 0-255 grey) at which a pixel counts fully. On the example's frames, the 90th percentile is 2e-4 and
# fabric edges, hands and the face reach 1e-3 and more.
TEXTURE = 1e-3
TRUSTED_POINTS = 20  # textured samples under a part at which its flow affine is fully trusted
SAMPLE_STEP = 6  # garment pixels sampled every SAMPLE_STEP pixels for each part's flow fit
MIN_POINTS = 12  # garment samples a part needs inside the crop for its flow affine (6 unknowns, twice over)


class CropMotion:
    """The optical flow from the last source crop to this one (crop pixels; None on the first frame)."""

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(FLOW_PRESET)
        self.gray: np.ndarray | None = None  # frame t, uint8 grey
        self.previous_gray: np.ndarray | None = None  # frame t-1, for `trust` and `lighting.SceneLighting`
        self._texture: np.ndarray | None = None
        self.flow: np.ndarray | None = None  # (H, W, 2) on frame t-1's grid: where each pixel is in frame t

    def update(self, crop: np.ndarray) -> None:
        self.previous_gray, self.gray = self.gray, cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        self._texture = None
        previous, gray = self.previous_gray, self.gray
        if previous is None or previous.shape != gray.shape:
            self.flow = None
            return
        self.flow = self._dis.calc(previous, gray, None)

    def moved(self, points: np.ndarray) -> np.ndarray:
        """float32 (N, 2) points (x, y) of frame t-1 where the flow takes them in frame t (needs `flow`)."""
        at = points.astype(np.float32)
        return (
            at
            + cv2.remap(self.flow, at[:, 0:1], at[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[:, 0, :]
        )

    def trust(self, points: np.ndarray) -> np.ndarray:
        """0..1 per point (x, y) of frame t-1: how well the flow can see motion there, from the smaller eigenvalue
        of the local structure tensor (Shi-Tomasi; `TEXTURE` and above counts fully)."""
        if self._texture is None:
            self._texture = cv2.cornerMinEigenVal(self.previous_gray, 9, 3)
        height, width = self._texture.shape
        x = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
        y = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
        return np.clip(self._texture[y, x] / TEXTURE, 0.0, 1.0)


class KeypointTracker:
    """Per-video state: the body keypoints carried along the flow and pulled toward each frame's detection, as
    the part maps are (`MotionTracker`), and held within `KEYPOINT_DRIFT` of it (`reined`): the regions drawn from them
    (the arms kept in front of the garment) then move with the source instead of with the detector's jitter."""

    def __init__(self, motion: CropMotion) -> None:
        self.motion = motion
        self._last: np.ndarray | None = None

    def __call__(self, body: np.ndarray) -> np.ndarray:
        """`body` (K, 3: x, y, confidence in crop pixels) with each joint seen now and last frame moved."""
        flow, last, out = self.motion.flow, self._last, body.copy()
        if flow is not None and last is not None and last.shape == body.shape:
            both = (body[:, 2] >= DRAW_THRESHOLD) & (last[:, 2] >= DRAW_THRESHOLD)
            if both.any():
                at = last[both, :2]
                moved = self.motion.moved(at)
                # A joint on textureless cloth is where the flow sees no motion: there the detection leads.
                pull = 1 - self.motion.trust(at) * (1 - PULL)
                carried = moved + pull[:, None] * (body[both, :2] - moved)
                scale = torso_length(body)
                if scale is not None:
                    carried += reined(body[both, :2] - carried, KEYPOINT_DRIFT * scale, share=1.0)
                out[both, :2] = carried
        self._last = out
        return out


def _pulled(carried: np.ndarray, fitted: np.ndarray, centre: np.ndarray, pull: float, shape_pull: float) -> np.ndarray:
    """The map between `carried` and `fitted`: the part's `centre` (garment pixels) moved `pull` of the way, its
    shape (the linear part) `shape_pull` of the way. The shape has its own, stronger pull: the flow's affine over a
    turning body shrinks a little every frame, and at the position's pull the garment narrowed to a strip within
    a few seconds (3DV-TON's model_1 clip, frames 40-120)."""
    linear = carried[:, :2] + shape_pull * (fitted[:, :2] - carried[:, :2])
    here, there = carried[:, :2] @ centre + carried[:, 2], fitted[:, :2] @ centre + fitted[:, 2]
    target = here + pull * (there - here)
    return np.concatenate([linear, (target - linear @ centre)[:, None]], axis=1)


def reined(apart: np.ndarray, limit: float, share: float = EXCESS_PULL) -> np.ndarray:
    """The move that takes back `share` of what lies beyond `limit` (pixels) of each offset `apart` (..., 2: from a
    carried point to where the detection puts it); zero within the limit."""
    distance = np.linalg.norm(apart, axis=-1, keepdims=True)
    beyond = np.clip(1 - limit / np.maximum(distance, 1e-9), 0.0, None)
    return apart * beyond * share


def _within(matrix: np.ndarray, fitted: np.ndarray, centre: np.ndarray, limit: float) -> np.ndarray:
    """`matrix` moved (shape kept) toward `fitted` (`reined`) where it puts the part's `centre` (garment pixels)
    farther than `limit` crop pixels from where `fitted` puts it."""
    here, there = matrix[:, :2] @ centre + matrix[:, 2], fitted[:, :2] @ centre + fitted[:, 2]
    out = matrix.copy()
    out[:, 2] += reined(there - here, limit)
    return out


def mirrors(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether one of the two 2x3 maps is the other's mirror image (their linear parts' determinants differ in
    sign)."""
    return float(np.linalg.det(a[:, :2])) * float(np.linalg.det(np.asarray(b, np.float64)[:, :2])) < 0


def part_samples(alpha: np.ndarray) -> np.ndarray:
    """(N, 2) float64 garment pixels (x, y) of a part's alpha, on a grid of `SAMPLE_STEP`."""
    ys, xs = np.nonzero(alpha[::SAMPLE_STEP, ::SAMPLE_STEP] > 0.5)
    return np.stack([xs, ys], axis=1).astype(np.float64) * SAMPLE_STEP


class MotionTracker:
    """Per-video state: each part's last map (2x3, garment -> crop pixels)."""

    def __init__(self, motion: CropMotion) -> None:
        self.motion = motion
        self.maps: dict[str, np.ndarray] = {}
        self.trust: dict[str, float] = {}  # this frame's trust in the flow under each part (0-1, `_carried`)

    def __call__(self, name: str, fitted: np.ndarray | None, samples: np.ndarray) -> np.ndarray | None:
        """The map of part `name` this frame, from last frame's carried by the flow and the keypoint fit
        `fitted` (None: the pose gives none this frame)."""
        carried, trust = self._carried(self.maps.get(name), samples)
        self.trust[name] = trust
        if carried is None or (fitted is not None and mirrors(carried, fitted)):
            # Across a reflection (the person turned past the side view, so the fit is mirrored) every map between
            # the two squeezes the garment to a strip: the fit is taken as it is.
            matrix = fitted
        elif fitted is None:
            matrix = carried
        else:
            matrix = _pulled(
                carried,
                np.asarray(fitted, np.float64),
                samples.mean(axis=0),
                1 - trust * (1 - PULL),
                1 - trust * (1 - SHAPE_PULL),
            )
            matrix = _within(matrix, fitted, samples.mean(axis=0), DRIFT_LIMIT * self.motion.gray.shape[0])
        if matrix is None:
            self.maps.pop(name, None)
        else:
            self.maps[name] = matrix
        return matrix

    def _carried(self, previous: np.ndarray | None, samples: np.ndarray) -> tuple[np.ndarray | None, float]:
        """Last frame's map moved by the flow at the part's pixels, and how far the flow is trusted there (0-1)."""
        flow = self.motion.flow
        if previous is None or flow is None or len(samples) < MIN_POINTS:
            return None, 0.0
        height, width = flow.shape[:2]
        at = samples @ previous[:, :2].T + previous[:, 2]
        inside = (at[:, 0] >= 0) & (at[:, 0] <= width - 1) & (at[:, 1] >= 0) & (at[:, 1] <= height - 1)
        if inside.sum() < MIN_POINTS:
            return None, 0.0
        at, garment = at[inside], samples[inside]
        moved = self.motion.moved(at)
        design = np.concatenate([garment, np.ones((len(garment), 1))], axis=1)
        solution, *_ = np.linalg.lstsq(design, moved.astype(np.float64), rcond=None)
        # The flow's affine is only as good as the textured pixels under the part: a sleeve over a plain cardigan
        # on a white wall has few, and there the keypoint fit leads.
        return solution.T, min(1.0, float(self.motion.trust(at).sum()) / TRUSTED_POINTS)
