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


_ARMS = tuple(
    Part(f"{s}_{name}", (f"{s}_{a}", f"{s}_{b}"), True)
    for s in "rl"
    for name, a, b in (("upper_arm", "shoulder", "elbow"), ("forearm", "elbow", "wrist"))
)
_LEGS = tuple(
    Part(f"{s}_{name}", (f"{s}_{a}", f"{s}_{b}"), True)
    for s in "rl"
    for name, a, b in (("thigh", "hip", "knee"), ("shin", "knee", "ankle"))
)
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
# Every constant below was chosen on the shipped example (T1) and the 3DV-TON clips (T3, model_1) in earlier
# rounds, by looking at the frames; none was tuned on a check clip (C1-C13).
STRETCH_RANGE = (0.35, 1.8)
# The person's shoulder keypoints moved in by this share of the shoulder width for the trunk's fit (a garment's
# shoulder landmark is the top of the armhole seam, a person's the joint; `trunk_transform`).
SHOULDER_INSET = 0.1
ROOT_REACH = 0.3  # the share of the upper arm from the shoulder that a sleeve's turned root covers (`root_weight`)
LIMB_PULL = 0.06  # image heights by which a trunk part yields to a limb outside its polygon (`label_parts`)
WIDTH_SLACK = 1.3  # a limb owns pixels within this times its sleeve's measured half-width (`label_parts`)
# A trunk part's piece of the garment apart from its main one, smaller than this share of the part, is a stray
# bit of a limb (`_strays_to_limbs`); a torso split in two halves (an open front) keeps both.
STRAY = 0.05
# Landmark confidence from which a point lies on the garment (the silhouette estimate gives 0.6 on the garment,
# 0.35 to points it extrapolates beyond it).
ON_GARMENT_CONFIDENCE = 0.4
MIN_ASPECT = 0.5  # a body seen from the side is still about half as deep as it is wide (`limit_anisotropy`)
# Neighbouring parts overlap by this fraction of the garment image's height, so a bent joint shows no crack.
OVERLAP = 0.012


def parts_for(category: str, garment_body: np.ndarray) -> tuple[Part, ...]:
    """The parts of `category` that the garment's landmarks support (a lower garment without ankles: a skirt).

    A forearm or shin part needs its far end on the garment: a short sleeve's wrist, extrapolated along the arm
    with a low confidence, gives the sleeve's direction but no fabric to warp along the forearm."""
    if category == "lower" and not _present(garment_body, ("r_ankle", "l_ankle")):
        category = "skirt"
    return tuple(
        p
        for p in PARTS[category]
        if _present(garment_body, p.joints, need=2)
        and not (
            p.limb
            and p.joints[0].endswith(("elbow", "knee"))
            and garment_body[J[p.joints[1]], 2] < ON_GARMENT_CONFIDENCE
        )
    )


def _present(body: np.ndarray, names: tuple[str, ...], need: int | None = None) -> bool:
    found = sum(body[J[n], 2] >= DRAW_THRESHOLD for n in names)
    return found >= (len(names) if need is None else need)


def label_parts(alpha: np.ndarray, garment_body: np.ndarray, parts: tuple[Part, ...]) -> list[np.ndarray]:
    """Per part, the float32 alpha of the garment pixels that belong to it (nearest part shape, small overlap).

    Where the garment also has a trunk, a limb owns pixels only within its sleeve's own half-width of its bone
    (measured across the bone on the garment, `_half_width`, with `WIDTH_SLACK`): a sleeve that hangs along a
    skirt does not take the skirt's side with it. What that leaves of a limb apart from the trunk is the limb's
    (`_strays_to_limbs`)."""
    height, width = alpha.shape
    has_trunk = any(not p.limb for p in parts)
    distances = np.empty((len(parts), height, width), np.float32)
    unlimited = {}  # per limb (index), its distances before the cut at its sleeve's width
    for k, part in enumerate(parts):
        shape = np.full((height, width), 255, np.uint8)
        points = [garment_body[J[n], :2] for n in part.joints if garment_body[J[n], 2] >= DRAW_THRESHOLD]
        points = np.round(np.array(points)).astype(np.int32)
        if part.limb or len(points) < 3:
            cv2.polylines(shape, [points], False, 0, 1)
        else:
            cv2.fillPoly(shape, [cv2.convexHull(points)], 0)
        distances[k] = cv2.distanceTransform(shape, cv2.DIST_L2, 3)
        if not part.limb:
            # Outside its polygon a trunk part yields to a limb within `LIMB_PULL` more: the inner hem of a
            # sleeve lies closer to the torso's polygon than to the arm's bone, yet turns with the arm.
            distances[k] += (distances[k] > 0) * LIMB_PULL * height
        elif has_trunk:
            a, b = (garment_body[J[n], :2] for n in part.joints)
            reach = WIDTH_SLACK * _half_width(alpha, a, b, 0.15 * height)
            unlimited[k] = distances[k].copy()
            distances[k][distances[k] > reach] = np.inf
    nearest = _strays_to_limbs(distances.argmin(axis=0), alpha, parts, unlimited)
    grow = max(1, int(round(OVERLAP * height))) * 2 + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
    # Only limbs grow into their neighbours: they are drawn over the trunk, so their overlap hides the seam, while
    # a trunk grown into a sleeve would leave a strip of sleeve hanging beside the body when the arm turns.
    return [
        alpha * (cv2.dilate(own, kernel) if part.limb else own)
        for part, own in ((part, (nearest == k).astype(np.uint8)) for k, part in enumerate(parts))
    ]


def _strays_to_limbs(
    nearest: np.ndarray, alpha: np.ndarray, parts: tuple[Part, ...], limbs: dict[int, np.ndarray]
) -> np.ndarray:
    """`nearest` (each pixel's part index) with a trunk part's stray pieces given to the nearest limb: the
    garment's pieces of that part (alpha over 0.5) apart from its largest, each smaller than `STRAY` of the part.
    A sleeve's cuff corner lies farther from its bone than the sleeve's measured half-width allows (`WIDTH_SLACK`), so
    it fell to the torso: drawn by the torso's map, it was a thin dark line hanging beside the arm, below the new
    tee's sleeve (the shipped example's sleeves, gallery T1 frames 24-47)."""
    if not limbs:
        return nearest
    keys = list(limbs)
    nearest_limb = np.array(keys)[np.stack([limbs[k] for k in keys]).argmin(axis=0)]
    out = nearest.copy()
    for k, part in enumerate(parts):
        if part.limb:
            continue
        solid = ((nearest == k) & (alpha > 0.5)).astype(np.uint8)
        count, pieces, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
        if count <= 2:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        main = 1 + int(areas.argmax())
        for piece in range(1, count):
            if piece != main and areas[piece - 1] < STRAY * areas.sum():
                # With its soft edge (alpha under 0.5, a pixel or two), which would draw its outline.
                stray = cv2.dilate((pieces == piece).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
                stray &= nearest == k
                out[stray] = nearest_limb[stray]
    return out


def _half_width(alpha: np.ndarray, a: np.ndarray, b: np.ndarray, longest: float) -> float:
    """Half a sleeve's (or leg's) width: from points along the bone a -> b, the distance across the bone to the
    garment's edge, on the nearer side (the other may run on into the torso or a skirt), the median over the
    points; `longest` when the bone lies off the garment."""
    direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    normal = np.array([-direction[1], direction[0]])
    steps = np.arange(1.0, longest)
    widths = []
    for t in (0.3, 0.45, 0.6, 0.75):
        centre = a + (b - a) * t
        sides = []
        for sign in (-1, 1):
            xy = np.round(centre + sign * steps[:, None] * normal).astype(int)
            inside = (xy[:, 0] >= 0) & (xy[:, 0] < alpha.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < alpha.shape[0])
            on = np.zeros(len(steps), bool)
            on[inside] = alpha[xy[inside, 1], xy[inside, 0]] > 0.5
            sides.append(float(steps[np.argmin(on)]) if not on.all() else longest)
        if (
            alpha[
                int(np.clip(round(centre[1]), 0, alpha.shape[0] - 1)),
                int(np.clip(round(centre[0]), 0, alpha.shape[1] - 1)),
            ]
            > 0.5
        ):
            widths.append(min(sides))
    return float(np.median(widths)) if widths else longest


def root_weight(part: Part, garment_body: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """float32 (H, W) weight of the garment pixels near where a limb that hangs from the trunk (an upper arm)
    joins it: 1 within `ROOT_REACH` of the bone's length from the shoulder, fading to 0 at twice that. None for
    other parts."""
    if not part.limb or not part.joints[0].endswith("shoulder"):
        return None
    a, b = (garment_body[J[n], :2] for n in part.joints)
    reach = ROOT_REACH * float(np.linalg.norm(b - a))
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    distance = np.hypot(xs - a[0], ys - a[1])
    return np.clip(2.0 - distance / max(reach, 1.0), 0.0, 1.0)


def blend(first: np.ndarray, second: np.ndarray, t: float) -> np.ndarray:
    """The affine a fraction `t` of the way from `first` to `second` (element-wise: fine for the moderate turns
    between a trunk and the arm that hangs from it)."""
    return (1 - t) * first + t * second


def trunk_transform(parts: tuple[Part, ...], garment_body: np.ndarray, person_body: np.ndarray) -> np.ndarray | None:
    """The least-squares affine of the trunk's joints (every non-limb part's), garment -> person; None without
    two joints seen in both. Limbs take their across-the-bone scale from it.

    A garment's shoulder landmark is the top of its armhole seam, on the torso's side; a person's shoulder
    keypoint is the joint, about half an upper arm further out. The person's shoulders are moved in by
    `SHOULDER_INSET` of the shoulder width, so the arms hang beside the garment's body rather than inside it."""
    names = sorted(
        {n for p in parts if not p.limb for n in p.joints} or {n for p in parts for n in p.joints if n.endswith("hip")}
    )
    person = person_body.copy()
    right, left = person[J["r_shoulder"]], person[J["l_shoulder"]]
    if right[2] >= DRAW_THRESHOLD and left[2] >= DRAW_THRESHOLD:
        inward = (left[:2] - right[:2]) * SHOULDER_INSET
        person[J["r_shoulder"], :2] += inward
        person[J["l_shoulder"], :2] -= inward
    source, target = _pairs(names, garment_body, person)
    matrix = fit_affine(source, target)
    return None if matrix is None else limit_anisotropy(matrix, MIN_ASPECT, np.mean(source, axis=0))


def limit_anisotropy(matrix: np.ndarray, min_aspect: float, anchor: np.ndarray) -> np.ndarray:
    """The affine with its smaller singular value raised to at least `min_aspect` x the larger one.

    A person seen from the side has shoulders and hips nearly on one line: the exact fit squeezes the garment to
    a sliver, while a body seen from the side is still about half as deep as it is wide. `anchor` (the
    garment's trunk centre) lands where it did."""
    u, singular, vt = np.linalg.svd(matrix[:, :2])
    if singular[1] >= min_aspect * singular[0]:
        return matrix
    singular = np.array([singular[0], min_aspect * singular[0]])
    linear = u @ np.diag(singular) @ vt
    offset = matrix[:, :2] @ anchor + matrix[:, 2] - linear @ anchor
    return np.concatenate([linear, offset[:, None]], axis=1)


def limb_transform(part: Part, garment_body: np.ndarray, person_body: np.ndarray, scale: float) -> np.ndarray | None:
    """The affine taking the garment's bone a -> b onto the person's: along the bone it stretches by the bones'
    length ratio (kept within `STRETCH_RANGE` x `scale`), across it by the trunk's `scale`. A short sleeve (or
    shorts' leg, `ends_short`) is stretched no further than `scale`: it keeps the photo's proportions and ends
    part of the way down the bone, shortened only where the bone looks shorter (foreshortened)."""
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
    longest = (1.0 if ends_short(part, garment_body) else STRETCH_RANGE[1]) * scale
    along = float(np.clip(p_len / g_len, STRETCH_RANGE[0] * scale, longest))
    # Rows of the garment frame (u, n) -> person frame, scaled: M = R_p diag(along, scale) R_g^T.
    frame_g = np.stack([u_g, _perp(u_g)])
    frame_p = np.stack([u_p, _perp(u_p)], axis=1)
    linear = frame_p @ np.diag([along, scale]) @ frame_g
    return np.concatenate([linear, (pa - linear @ ga)[:, None]], axis=1)


def ends_short(part: Part, garment_body: np.ndarray) -> bool:
    """Whether limb `part` is a short sleeve's or a pair of shorts' upper segment: its far landmark is the cloth's
    end, not a joint (the garment's next joint, the wrist or the ankle, lies off the garment). Its length is then
    the garment's, not the bone's: `limb_transform` stretches it along the bone no further than the trunk's scale."""
    following = {"elbow": "wrist", "knee": "ankle"}.get(part.joints[1].split("_", 1)[1])
    if not part.limb or following is None:
        return False
    return garment_body[J[f"{part.joints[1][0]}_{following}"], 2] < ON_GARMENT_CONFIDENCE


def _perp(v: np.ndarray) -> np.ndarray:
    return np.array([-v[1], v[0]])


def _pairs(names, garment_body: np.ndarray, person_body: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    ok = [n for n in names if garment_body[J[n], 2] >= DRAW_THRESHOLD and person_body[J[n], 2] >= DRAW_THRESHOLD]
    return (
        [garment_body[J[n], :2].astype(np.float64) for n in ok],
        [person_body[J[n], :2].astype(np.float64) for n in ok],
    )


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
