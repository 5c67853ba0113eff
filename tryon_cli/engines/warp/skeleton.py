"""The garment cut into parts that follow the body's bones, and one affine map per part, garment -> person.

Each category's garment is a few parts (`PARTS`): a body part (the torso, a skirt) whose polygon of joints moves
rigidly-ish with the trunk, and limb segments (upper arm, forearm, thigh, shin) that each turn and stretch with
their bone. A garment pixel belongs to the part whose shape (polygon, or bone segment) it is nearest to, in
garment landmark space. Why affine per part rather than one thin-plate spline over all points: docs/warp_engine.md
(few and noisy correspondences, sleeves that must not drag the torso with them, and speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import BODY_INDEX, DRAW_THRESHOLD

J = BODY_INDEX


@dataclass(frozen=True)
class Part:
    name: str
    joints: tuple[str, ...]  # a limb: its bone (a, b); a body part: the joints of its polygon
    limb: bool


_ARMS = tuple(Part(f"{s}_{name}", (f"{s}_{a}", f"{s}_{b}"), True)
              for s in "rl" for name, a, b in (("upper_arm", "shoulder", "elbow"), ("forearm", "elbow", "wrist")))
_LEGS = tuple(Part(f"{s}_{name}", (f"{s}_{a}", f"{s}_{b}"), True)
              for s in "rl" for name, a, b in (("thigh", "hip", "knee"), ("shin", "knee", "ankle")))
_TORSO = Part("torso", ("neck", "r_shoulder", "l_shoulder", "l_hip", "r_hip"), False)
_SKIRT = Part("skirt", ("r_hip", "l_hip", "l_knee", "r_knee"), False)

# Drawn in this order (later parts in front): the trunk first, then the limbs, so a sleeve over the torso (an arm
# crossing in front) covers it.
PARTS = {
    "upper": (_TORSO,) + _ARMS,
    "dress": (_TORSO, _SKIRT) + _ARMS,
    "lower": _LEGS,
    "skirt": (_SKIRT,),  # a lower garment without ankles (skirt, short skirt)
}
# Bone length ratios (person / garment) are kept within these multiples of the trunk's scale: a keypoint that is
# briefly wrong must not stretch a sleeve across the frame.
STRETCH_RANGE = (0.35, 1.8)
SHOULDER_INSET = 0.1
# Neighbouring parts overlap by this fraction of the garment image's height, so a bent joint shows no crack.
OVERLAP = 0.012


def parts_for(category: str, garment_body: np.ndarray) -> tuple[Part, ...]:
    """The parts of `category` that the garment's landmarks support (a lower garment without ankles: a skirt)."""
    if category == "lower" and not _present(garment_body, ("r_ankle", "l_ankle")):
        category = "skirt"
    return tuple(p for p in PARTS[category] if _present(garment_body, p.joints, need=2))


def _present(body: np.ndarray, names: tuple[str, ...], need: int | None = None) -> bool:
    found = sum(body[J[n], 2] >= DRAW_THRESHOLD for n in names)
    return found >= (len(names) if need is None else need)


def label_parts(alpha: np.ndarray, garment_body: np.ndarray, parts: tuple[Part, ...]) -> list[np.ndarray]:
    """Per part, the float32 alpha of the garment pixels that belong to it (nearest part shape, small overlap)."""
    height, width = alpha.shape
    distances = np.empty((len(parts), height, width), np.float32)
    for k, part in enumerate(parts):
        shape = np.full((height, width), 255, np.uint8)
        points = [garment_body[J[n], :2] for n in part.joints if garment_body[J[n], 2] >= DRAW_THRESHOLD]
        points = np.round(np.array(points)).astype(np.int32)
        if part.limb or len(points) < 3:
            cv2.polylines(shape, [points], False, 0, 1)
        else:
            cv2.fillPoly(shape, [cv2.convexHull(points)], 0)
        distances[k] = cv2.distanceTransform(shape, cv2.DIST_L2, 3)
    nearest = distances.argmin(axis=0)
    grow = max(1, int(round(OVERLAP * height))) * 2 + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
    return [alpha * cv2.dilate((nearest == k).astype(np.uint8), kernel) for k in range(len(parts))]


def trunk_transform(parts: tuple[Part, ...], garment_body: np.ndarray, person_body: np.ndarray) -> np.ndarray | None:
    """The least-squares affine of the trunk's joints (every non-limb part's), garment -> person; None without
    two joints seen in both. Limbs take their across-the-bone scale from it.

    A garment's shoulder landmark is the top of its armhole seam, on the torso's side; a person's shoulder
    keypoint is the joint, about half an upper arm further out. The person's shoulders are moved in by
    `SHOULDER_INSET` of the shoulder width, so the arms hang beside the garment's body rather than inside it."""
    names = sorted({n for p in parts if not p.limb for n in p.joints}
                   or {n for p in parts for n in p.joints if n.endswith("hip")})
    person = person_body.copy()
    right, left = person[J["r_shoulder"]], person[J["l_shoulder"]]
    if right[2] >= DRAW_THRESHOLD and left[2] >= DRAW_THRESHOLD:
        inward = (left[:2] - right[:2]) * SHOULDER_INSET
        person[J["r_shoulder"], :2] += inward
        person[J["l_shoulder"], :2] -= inward
    return fit_affine(*_pairs(names, garment_body, person))


def limb_transform(part: Part, garment_body: np.ndarray, person_body: np.ndarray, scale: float) -> np.ndarray | None:
    """The affine taking the garment's bone a -> b onto the person's: along the bone it stretches by the bones'
    length ratio (kept within `STRETCH_RANGE` x `scale`), across it by the trunk's `scale`."""
    source, target = _pairs(part.joints, garment_body, person_body)
    if len(source) < 2:
        return None
    (ga, gb), (pa, pb) = source, target
    g_len, p_len = np.linalg.norm(gb - ga), np.linalg.norm(pb - pa)
    if g_len < 1e-3:
        return None
    u_g = (gb - ga) / g_len
    # A bone seen end-on (length ~0 in the image) keeps the garment's direction, turned like the trunk.
    u_p = (pb - pa) / p_len if p_len > 1e-3 else u_g
    along = float(np.clip(p_len / g_len, STRETCH_RANGE[0] * scale, STRETCH_RANGE[1] * scale))
    # Rows of the garment frame (u, n) -> person frame, scaled: M = R_p diag(along, scale) R_g^T.
    frame_g = np.stack([u_g, _perp(u_g)])
    frame_p = np.stack([u_p, _perp(u_p)], axis=1)
    linear = frame_p @ np.diag([along, scale]) @ frame_g
    return np.concatenate([linear, (pa - linear @ ga)[:, None]], axis=1)


def _perp(v: np.ndarray) -> np.ndarray:
    return np.array([-v[1], v[0]])


def _pairs(names, garment_body: np.ndarray, person_body: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    ok = [n for n in names if garment_body[J[n], 2] >= DRAW_THRESHOLD and person_body[J[n], 2] >= DRAW_THRESHOLD]
    return ([garment_body[J[n], :2].astype(np.float64) for n in ok],
            [person_body[J[n], :2].astype(np.float64) for n in ok])


def fit_affine(source: list[np.ndarray], target: list[np.ndarray]) -> np.ndarray | None:
    """2x3 least-squares affine source -> target; a similarity from two points; None from fewer, or when the
    points are (nearly) collinear and only a similarity is safe."""
    if len(source) < 2:
        return None
    src, dst = np.array(source), np.array(target)
    centred = src - src.mean(axis=0)
    spread = np.linalg.svd(centred, compute_uv=False)
    if len(src) >= 3 and spread[1] > 0.15 * spread[0]:
        design = np.concatenate([src, np.ones((len(src), 1))], axis=1)
        solution, *_ = np.linalg.lstsq(design, dst, rcond=None)
        return solution.T
    matrix, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    return matrix


def scale_of(matrix: np.ndarray) -> float:
    """The affine's mean linear scale (square root of its area ratio)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
