"""What the pose says about the body in crop pixels, and the source's shading that the new garment takes over.

- `keypoint`, `capsule`, `fill_polygon`, `pixel`: joints, and the capsules along bones and the trunk's polygons drawn
  (human proportions in trunk lengths).
- `arms_in_front`: forearms crossing in front of the trunk (they stay the source's, in front of the new garment).
- `near_forearm_zone`: beside the near forearm of a body seen from the side (no sliver of the torso hangs there).
- `face_box`: the face and the hair around it, from the head keypoints: never drawn over, whatever the mask says.
- `skin_likelihood`: a per-pixel skin test (the new garment's shading is measured off skin).
- `shading`: the source's folds, shadows and lighting changes that the new garment takes over.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from tryon_cli.engines.warp.skeleton import SHOULDER_INSET
from tryon_cli.preprocess.head import Box, frame_interior, located_head_points
from tryon_cli.preprocess.keypoints import BODY_INDEX, DRAW_THRESHOLD, near_arm, point, seen_from_side, torso_length

J = BODY_INDEX
# Radii of bare limbs, in trunk lengths (neck to mid-hip): a forearm is ~8 cm across a ~50 cm trunk.
LIMB_RADII = {"shoulder-elbow": 0.075, "elbow-wrist": 0.06, "hip-knee": 0.14, "knee-ankle": 0.085}
# A forearm crosses in front of the trunk (`crossing_forearms`) when its wrist or middle lies inside the shoulder-hip
# quadrilateral shrunk by this share towards its centre: a hand on the hip or an arm hanging at the side lies on the
# quadrilateral's edge, within the keypoints' error of it, and kept in front of the garment it would cut a notch in
# the garment's side. Set with the first engine (ca3cadf), on no recorded clip; not tuned on the gallery since.
FRONT_INSET = 0.15
# On a body seen from the side, the zone beside the near forearm where the torso's garment has no sliver
# (`near_forearm_zone`, `dress.SLIVER`), in trunk lengths from the forearm's bone: the forearm's own half width (its
# skin reaches 0.07-0.10 from the bone on T1's side view), the band the masks leave in the mask beside it (0.08,
# `preprocess.lower_garment.ARM_RADIUS`) and the keypoints' error. Chosen on T1.
BESIDE_FOREARM = 0.3
# How far the pose's envelope of the body (`envelope`) reaches past the trunk's quadrilateral and the bones, in
# trunk lengths: a sleeve's or a hip's half-width, about 10 cm on a 50 cm trunk. Chosen on T1 (the tee's sleeves
# stay whole where the segmentation lost the cream cardigan, a sleeve laid out flat is cut where it stood out).
ENVELOPE = 0.2
# How far above the neck keypoint (the shoulders' midpoint) the torso's garment may reach, in trunk lengths: a
# collar stands a little above the shoulder line (about 1.5 cm on a 50 cm trunk); higher is the neck and the chin
# (T1's first frames, the head out of frame: the tee's back collar rose over the chin; at 0.06 it still did).
ABOVE_NECK = 0.03
# How far either side of the spine the collar line stays at `ABOVE_NECK`, in trunk lengths; beyond it the line may
# rise to the shoulders' tops (`below_neck`). Under the whole head, not only the neck (~0.12): the face box drawn
# from the shoulders (`HEAD_FROM_SHOULDERS`) is 0.25 shoulder breadths, about 0.15 trunk lengths, either side.
UNDER_HEAD = 0.16
# Long hair over a back (`back_hair`): how far below the neck it may fall and how far either side of the spine, in
# trunk lengths (hair to the shoulder blades, a little wider than the head), and how far (0-255, any channel) a
# pixel must be from the old garment's colour to count as hair. Chosen on T5 (fashionchameleon_case3, dark hair
# over a white hoodie as she turns).
HAIR_REACH = 0.45
HAIR_HALF_WIDTH = 0.2
HAIR_CONTRAST = 40.0
SHADING_SIGMA = 0.012  # low-pass of the source's luminance, in crop heights: keeps folds, drops the old print
WIDE_SIGMA = 0.06  # the wider average that folds and shadows are measured against, in crop heights
WIDE_STEP = 4  # ... computed at 1/WIDE_STEP of the size (`_wide_blur`)
SHADING_RANGE = (0.75, 1.12)  # how much darker / brighter than its surroundings a fold or shadow may make cloth
SHADING_FLOOR = 48.0  # grey levels added to both sides of the ratio (see `shading`)
# The face box (`face_box`) around the visible head points, in units of their spread s (the largest distance between
# two of them: ear to ear, or eye to ear in profile): half a spread each side, 0.6 s above the eyes (the forehead) and
# 0.5 s below the nose (the chin, with a head about 1.2 ear-widths tall). It reaches past the head region that the
# masks keep (`preprocess.head`, 0.09 head heights past the ears) to the hair beside the face: the gallery's T6 drew a
# raised arm's sleeve over the hair beside the dancer's face, and C9 a short sleeve's corner.
FACE_SIDE, FACE_ABOVE, FACE_BELOW = 0.5, 0.6, 0.5
# Without two head points, in units of the shoulder keypoints' distance: the face is a quarter of it each side of
# the neck point, its chin a fifth above the neck point (the shoulders' midpoint; measured on ViViD upper1, whose
# chin sits at the frame's top edge, 0.25 above), and it is 0.7 tall.
HEAD_FROM_SHOULDERS = (0.25, 0.2, 0.7)


def face_box(
    body: np.ndarray, height: int, width: int, min_side: int = 1, interior: Box | None = None
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), x1 and y1 exclusive: the face and the hair beside it, from the OpenPose-18 head points
    (`FACE_*`) located inside the frame (`preprocess.head.located_head_points`; `interior` where the pixels are a
    crop reaching past the frame, else `frame_interior`); with fewer than two (the head at or above the frame's top
    edge, the back of the head), the box above the neck from the shoulders (`HEAD_FROM_SHOULDERS`); None when
    neither is seen, or when the box is thinner than `min_side` pixels once cut by the frame. The engine never
    changes a pixel in it; the gallery (`benchmarks/gallery.py`) counts the changed pixels in it."""
    located = located_head_points(body, interior or frame_interior(height, width))
    if len(located) >= 2:
        visible = np.array(list(located.values()))
        spread = max(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(visible, 2))
        eyes = [located[name][1] for name in ("r_eye", "l_eye") if name in located]
        top = (min(eyes) if eyes else visible[:, 1].min()) - FACE_ABOVE * spread
        bottom = (located["nose"][1] if "nose" in located else visible[:, 1].max()) + FACE_BELOW * spread
        left, right = visible[:, 0].min() - FACE_SIDE * spread, visible[:, 0].max() + FACE_SIDE * spread
    else:
        neck, shoulders = body[J["neck"]], body[[J["r_shoulder"], J["l_shoulder"]]]
        if min(neck[2], *shoulders[:, 2]) < DRAW_THRESHOLD:
            return None
        breadth = float(np.linalg.norm(shoulders[0, :2] - shoulders[1, :2]))
        side, chin, tall = (share * breadth for share in HEAD_FROM_SHOULDERS)
        left, right, bottom = neck[0] - side, neck[0] + side, neck[1] - chin
        top = bottom - tall
    x0, y0 = max(0, int(left)), max(0, int(top))
    x1, y1 = min(width, int(np.ceil(right))), min(height, int(np.ceil(bottom)))
    return (x0, y0, x1, y1) if min(x1 - x0, y1 - y0) >= min_side else None


def capsule(canvas: np.ndarray, a, b, radius: float) -> None:
    """Draws 1 on uint8 `canvas` along the segment a-b, `radius` pixels each side; nothing if a point is missing."""
    if a is None or b is None:
        return
    cv2.line(canvas, pixel(a), pixel(b), 1, max(1, int(round(2 * radius))), cv2.LINE_AA)


def fill_polygon(canvas: np.ndarray, polygon: np.ndarray) -> None:
    """Draws 1 on uint8 `canvas` inside the convex `polygon` (float (N, 1, 2), as `quadrilateral` gives it)."""
    cv2.fillConvexPoly(canvas, np.round(polygon.reshape(-1, 2)).astype(np.int32), 1)


def pixel(point) -> tuple[int, int]:
    """The integer pixel (x, y) nearest to `point`, as OpenCV's drawing takes it."""
    return int(round(float(point[0]))), int(round(float(point[1])))


def crossing_forearms(body: np.ndarray) -> frozenset[str]:
    """The sides ("r", "l") whose forearm crosses in front of the trunk in this pose: its middle or wrist lies well
    inside the trunk (the shoulder-hip quadrilateral shrunk by `FRONT_INSET` towards its centre)."""
    trunk = trunk_polygon(body)
    if trunk is None:
        return frozenset()
    sides = set()
    for side in "rl":
        elbow, wrist = point(body, f"{side}_elbow"), point(body, f"{side}_wrist")
        if elbow is not None and wrist is not None:
            inside = (
                cv2.pointPolygonTest(trunk, (float(p[0]), float(p[1])), False) > 0 for p in (wrist, (elbow + wrist) / 2)
            )
            if any(inside):
                sides.add(side)
    return frozenset(sides)


def arms_in_front(
    body: np.ndarray, shape: tuple[int, int], crossing: frozenset[str], all_arms: bool = False
) -> np.ndarray:
    """uint8 0/1 capsules of the forearms of the sides in `crossing` (those that cross in front of the trunk,
    `crossing_forearms`, held over frames by `frame_state.Crossing`). `all_arms`: both whole arms wherever they are
    (they hang in front of a lower garment's hips)."""
    front = np.zeros(shape, np.uint8)
    scale = torso_length(body)
    if scale is None:
        return front
    for side in "rl":
        shoulder, elbow, wrist = (point(body, f"{side}_{j}") for j in ("shoulder", "elbow", "wrist"))
        if all_arms:
            capsule(front, shoulder, elbow, LIMB_RADII["shoulder-elbow"] * scale)
        if side in crossing or all_arms:
            capsule(front, elbow, wrist, LIMB_RADII["elbow-wrist"] * scale)
    return front


def near_forearm_zone(body: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool: on a body seen from the side, the pixels within `BESIDE_FOREARM` trunk lengths of its near forearm
    (`keypoints.near_arm`); empty otherwise."""
    zone = np.zeros(shape, np.uint8)
    scale = torso_length(body)
    if scale is None or not seen_from_side(body):
        return zone > 0
    side = near_arm(body)
    capsule(zone, point(body, f"{side}_elbow"), point(body, f"{side}_wrist"), BESIDE_FOREARM * scale)
    return zone > 0


def envelope(body: np.ndarray, shape: tuple[int, int], legs: bool) -> np.ndarray:
    """uint8 0/1: where the pose says this person's body is, grown by `ENVELOPE` trunk lengths: the trunk's
    quadrilateral, capsules along the arms and (`legs`) the legs. Where the learned segmentation misses the
    person (a cream cardigan on a white wall, T1), this still holds the garment."""
    canvas = np.zeros(shape, np.uint8)
    scale = torso_length(body)
    if scale is None:
        return canvas
    trunk = trunk_polygon(body, 0.0)
    if trunk is not None:
        fill_polygon(canvas, trunk)
    for side in "rl":
        points = [point(body, f"{side}_{j}") for j in ("shoulder", "elbow", "wrist")]
        if legs:
            points += [None] + [point(body, f"{side}_{j}") for j in ("hip", "knee", "ankle")]
        for a, b in zip(points, points[1:]):
            capsule(canvas, a, b, 0.5 * ENVELOPE * scale)
    grow = 2 * int(round(ENVELOPE * scale)) + 1
    return cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))


def below_neck(body: np.ndarray, shape: tuple[int, int], lifts: np.ndarray | None = None) -> np.ndarray:
    """float32 0/1: where a garment's torso may be drawn, below its collar and its shoulders. Under the head (within
    `UNDER_HEAD` trunk lengths of the spine) the line through the neck across the trunk, moved up by `ABOVE_NECK`
    trunk lengths: above it lie the neck, the chin and the hair. From there to each shoulder (`SHOULDER_INSET` in
    from its joint, where the garment's shoulder is fitted) the line rises to that side's `lifts` (trunk lengths
    above the shoulder line: how far up the old garment reaches there, `shoulders.ShoulderLift`), and stays there
    beyond it; without `lifts` it stays at `ABOVE_NECK`. All 1 without a neck and hips."""
    height, width = shape
    neck, scale = point(body, "neck"), torso_length(body)
    hips = [point(body, n) for n in ("r_hip", "l_hip")]
    if neck is None or scale is None or any(h is None for h in hips):
        return np.ones(shape, np.float32)
    down = np.mean(hips, axis=0) - neck
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = (xs - neck[0]) * down[0] + (ys - neck[1]) * down[1]
    rise = np.full(shape, ABOVE_NECK * scale, np.float32)
    shoulders = [point(body, n) for n in ("r_shoulder", "l_shoulder")]
    if lifts is not None and all(s is not None for s in shoulders):
        across = np.array([-down[1], down[0]])
        side = (xs - neck[0]) * across[0] + (ys - neck[1]) * across[1]
        for shoulder, other, lift in zip(shoulders, shoulders[::-1], lifts):
            inset = shoulder + (other - shoulder) * SHOULDER_INSET
            reach = float(np.dot(inset - neck, across))
            # How far above the neck's line the old garment reaches at the shoulder.
            top = lift * scale - float(np.dot(inset - neck, down))
            if abs(reach) <= UNDER_HEAD * scale or top <= ABOVE_NECK * scale:
                continue
            # 0 at `UNDER_HEAD` from the spine, 1 at the shoulder and beyond, on this shoulder's side only.
            t = np.clip((side * np.sign(reach) - UNDER_HEAD * scale) / (abs(reach) - UNDER_HEAD * scale), 0, 1)
            rise = np.maximum(rise, ABOVE_NECK * scale + t * (top - ABOVE_NECK * scale))
    return (along >= -rise).astype(np.float32)


def back_hair(source: np.ndarray, body: np.ndarray) -> np.ndarray:
    """uint8 0/1: long hair over a back, where the new garment is not drawn. Below the head, within `HAIR_REACH`
    trunk lengths of the neck and `HAIR_HALF_WIDTH` of the spine, the pixels unlike the old garment (more than
    `HAIR_CONTRAST` from its median colour, taken on the trunk's lower core, which hair does not reach)."""
    shape = source.shape[:2]
    hair = np.zeros(shape, np.uint8)
    scale = torso_length(body)
    neck = point(body, "neck")
    core = quadrilateral(body, ("r_shoulder", "l_shoulder", "l_hip", "r_hip"), 0.4)
    if scale is None or neck is None or core is None:
        return hair
    hips = [point(body, n) for n in ("r_hip", "l_hip")]
    down = (np.mean(hips, axis=0) - neck) if all(h is not None for h in hips) else np.array([0.0, scale])
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    lower = np.zeros(shape, np.uint8)
    fill_polygon(lower, core)
    lower[: int(round(neck[1] + 0.6 * scale))] = 0  # the core's lower part: below where hair may reach
    if lower.sum() < 20:
        return hair
    cloth = np.median(source[lower > 0].astype(np.float32), axis=0)
    reach = np.zeros(shape, np.uint8)
    capsule(reach, neck - 0.1 * scale * down, neck + HAIR_REACH * scale * down, HAIR_HALF_WIDTH * scale)
    unlike = np.abs(source.astype(np.float32) - cloth).max(axis=2) > HAIR_CONTRAST
    hair = (reach > 0) & unlike
    return cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def trunk_polygon(body: np.ndarray, inset: float = FRONT_INSET) -> np.ndarray | None:
    """float32 (4, 1, 2): the shoulder-hip quadrilateral shrunk by `inset` towards its centre; None without it."""
    return quadrilateral(body, ("r_shoulder", "l_shoulder", "l_hip", "r_hip"), inset)


def quadrilateral(body: np.ndarray, names: tuple[str, ...], inset: float) -> np.ndarray | None:
    """float32 (N, 1, 2): the polygon of joints `names` shrunk by `inset` towards its centre; None if one is missing."""
    points = [point(body, n) for n in names]
    if any(p is None for p in points):
        return None
    points = np.array(points, np.float32)
    centre = points.mean(axis=0)
    return (centre + (points - centre) * (1 - inset)).reshape(-1, 1, 2)


def skin_likelihood(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) 1 where an RGB pixel's chroma is skin's (the YCrCb box of Chai & Ngan 1999, which holds
    whatever the skin's lightness), 0 elsewhere, with a soft step of a few chroma levels at the box's edges.
    Pixels darker than luma 40 are left out: there the chroma is mostly noise. (At 80, as before, dark skin, luma
    40-80 in the 3DV-TON dress clip's legs, was painted over in the skin tone; black cloth stays out through its
    neutral chroma.)"""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]

    def inside(v, low, high):
        return np.clip(np.minimum(v - low, high - v) / 4.0 + 0.5, 0.0, 1.0)

    return inside(cr, 135, 173) * inside(cb, 77, 127) * inside(y, 40, 255)


def luminance(source: np.ndarray, crop_height: int) -> np.ndarray:
    """float32 (H, W) low-pass luminance of (a box of) an RGB crop `crop_height` pixels high."""
    gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sigma = SHADING_SIGMA * crop_height
    return cv2.GaussianBlur(gray, (0, 0), sigma)


def shading(
    low: np.ndarray, cloth: np.ndarray, body_weight: np.ndarray, crop_height: int, lighting: float
) -> np.ndarray:
    """float32 (H, W) multiplier for the new garment and skin: the source's folds and shadows, and the scene's
    lighting change.

    Folds and shadows are the low-pass luminance `low` over its wider average on the body (`body` bool; a
    normalised convolution, so the wall beside a black garment does not brighten its edge): the old garment's
    own colour, a large-scale albedo, cancels out, what varies within a few centimetres of cloth stays. `cloth`
    (bool: the old garment's pixels) says which pixels the wider average is taken over. It is
    clipped to `SHADING_RANGE` and faded to 1 off the body (`body_weight`). `lighting` (the scene's brightness
    over the first frame's, `lighting.SceneLighting`) multiplies the whole."""
    sigma = WIDE_SIGMA * crop_height
    # A little weight everywhere, so the average is defined where no cloth is near (it is then ~1 anyway).
    weight = cloth.astype(np.float32) + 0.02
    wide = _wide_blur(low * weight, sigma) / np.maximum(_wide_blur(weight, sigma), 1e-3)
    # On a dark old garment a few grey levels of noise or texture are a large ratio: the floor damps them.
    ratio = (low + SHADING_FLOOR) / (wide + SHADING_FLOOR)
    # The typical cloth pixel is neither lit nor shaded: the ratio's median on the cloth is brought back to 1.
    if cloth.any():
        ratio /= max(float(np.median(ratio[cloth])), 1e-3)
    ratio = np.clip(ratio, *SHADING_RANGE)
    return (1.0 + body_weight * (ratio - 1.0)) * lighting


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `sigma` pixels (tens of pixels here), done at a quarter of the size: what it keeps is
    smooth over many pixels, and at full size the two blurs of `shading` took a tenth of the engine's time."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // WIDE_STEP), max(1, height // WIDE_STEP)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / WIDE_STEP)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
