"""The hands: regions a try-on never repaints, from the hand points where the pose has them, else from the forearm
and, given the frame, the hand's own skin.

Conventions as in `preprocess/keypoints.py`: a `FramePose` whose body is OpenPose-18 `(18, 3)` (x, y, confidence)
in frame pixels, and optionally DWPose's hands `(2, 21, 3)` (index 0 = the person's left hand, 1 = the right). The
results, `hand_regions` and `bent_hands`, are bool `(height, width)` images in the same pixels (True = hand, keep
the source pixel).

A hand with at least `MIN_HAND_POINTS` points is their outline grown by `HAND_POINT_MARGIN`: a bent wrist is in
it. Without hand points (the YOLO backend has none) it is a capsule that starts at the wrist and runs on along the
forearm's direction for a hand's length: a hanging, raised or reaching hand continues its forearm. A hand bent at
the wrist (hooked into a pocket, turned in over the hips, holding a bag's handle) leaves that line, and the wrist
point often sits on the wrist's edge rather than its middle; `bent_hands` finds the rest of such a hand in the
frame: the skin of the person (`hair.skin`, the person segmentation; not of the garment's colour) connected to the
wrist, within a hand's length of it and beyond it (not back up the forearm, nor on the other forearm), and no larger
than a hand (a larger patch of skin colour is a bare leg or a skin-toned garment: only the capsule is kept then).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from tryon_cli.preprocess.hair import MIN_SAMPLES, PERSON, Colour, garment_colour, skin
from tryon_cli.preprocess.head import face_box
from tryon_cli.preprocess.keypoints import DRAW_THRESHOLD, FramePose, pixel, point, torso_length

HAND_LENGTH = 0.3
"""Wrist to fingertip in trunk lengths (neck to mid-hip): ~19 cm over a ~50 cm trunk, a little more for the wrist
point's own error along the forearm."""
HAND_HALF_WIDTH = 0.08
"""The capsule's radius in trunk lengths: a hand is ~9 cm across with the thumb spread (0.09 each side of its
axis), and the forearm's direction is only a guess of the hand's."""
HAND_POINT_MARGIN = 0.04
"""How far (in trunk lengths) an outline of hand points is grown: the points lie on the fingers' axes."""
MIN_HAND_POINTS = 3
"""Confident hand points needed to draw a hand from them: three make the smallest outline with an area; with fewer
the hand is placed along its forearm instead."""
FOREARM_HALF_WIDTH = 0.12
"""Skin within this many trunk lengths of a forearm's axis (elbow to wrist) is the forearm, not a hand: a forearm is
~0.06 L wide on either side of its axis near the wrist, doubled for the points' error."""
MAX_HAND_AREA = 0.07
"""A hand's skin covers at most this many square trunk lengths (~19 x 9 cm over a ~50 cm trunk): a larger patch
joined to the wrist is not the hand alone (a skin-toned garment, a bare thigh). The hands found on the shared
ViViD and 3DV-TON clips cover 0.02-0.055."""
GARMENT_DISTANCE = 2.5
"""A pixel of a hand's region within this many standard deviations (Mahalanobis, CIELAB) of the garment's colour
may be the garment around the hand (`garment_by_hands`). Tighter than the hair's 3: what a hand holds (a bag's
handle, a phone) must not pass for the garment."""
FACE_SKIN_DISTANCE = 3.0
"""Skin lies within 3 standard deviations (Mahalanobis, CIELAB) of the face's colour (`skin_test`): the hands are
often a little darker or redder than the face, and the test only keeps pixels, so erring wide is safe."""
RIM = 0.01
"""How far (in trunk lengths, ~5 mm) a hand found apart from the garment's colour (`bent_hands`) takes back the
skin-box pixels around it: its rim, blended by the camera with the garment behind it, is of the garment's colour
too (without it 7% of ViViD upper1's bent hands, their outer pixels, were lost)."""
HAND_SKIN_REACH = 0.08
"""How far (in trunk lengths, ~4 cm: a hand's half width, `HAND_HALF_WIDTH`; chosen, not tuned) past the edge of a
hand's region its skin is followed (`hand_skin`): the region is placed from points that sit on the fingers' axes and
lag a moving, blurred hand. On gallery T4 the pixels it keeps that the new polo covered before lie a median 0.04 and
at most 0.08 trunk lengths past the region kept before at frames 20 and 46 (a hand moving in front of her chest), at
most 0.04 at frame 76 (the heel of a hand holding a scarf)."""
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
        arm = _forearm(pose, side)
        if arm is None:
            continue
        _, wrist, direction = arm
        # Round caps: the far one reaches the fingertips, the near one the wrist (where the hand begins), not up a
        # sleeve's cuff: started half a radius behind it, the cuffs on ViViD upper1 were kept (recall 0.931 -> 0.942).
        start = wrist + direction * HAND_HALF_WIDTH * scale
        tip = wrist + direction * (HAND_LENGTH - HAND_HALF_WIDTH) * scale
        thickness = max(1, int(round(2 * HAND_HALF_WIDTH * scale)))
        cv2.line(image, pixel(start), pixel(tip), 1, thickness)
        for end in (start, tip):
            cv2.circle(image, pixel(end), thickness // 2, 1, -1)
    return image > 0


def bent_hands(frame: np.ndarray, pose: FramePose, person: np.ndarray, garment: Colour | None = None) -> np.ndarray:
    """The skin of each hand without hand points that lies beyond its wrist (see the module), bool `(H, W)`, for
    an RGB uint8 `frame` and its person probability `person` (float `(H, W)`); empty without a body scale.

    Skin here is the skin box (`hair.skin`), not the face's colour: the hands are darker or redder than the face,
    and the face's test lost a third of ViViD upper1's bent-hand pixels. A white garment in warm light lies inside
    the box too, so pixels of the `garment`'s colour (`garment_near_hands`; within `GARMENT_DISTANCE`) are not
    taken, but for the hand's rim (`RIM`), which the camera blends with what lies behind it."""
    height, width = person.shape
    found = np.zeros((height, width), bool)
    scale = torso_length(pose.body)
    if scale is None:
        return found
    arms = {side: _forearm(pose, side) for side in HAND_INDEX}
    reach = HAND_LENGTH * scale
    for side, index in HAND_INDEX.items():
        points = None if pose.hands is None else pose.hands[index]
        if arms[side] is None or (points is not None and (points[:, 2] >= DRAW_THRESHOLD).sum() >= MIN_HAND_POINTS):
            continue
        wrist, direction = arms[side][1], arms[side][2]
        # Work in the box of a hand's reach around the wrist: a fraction of the frame.
        x0, y0 = (max(0, int(np.floor(c - reach))) for c in wrist)
        x1, y1 = min(width, int(np.ceil(wrist[0] + reach)) + 1), min(height, int(np.ceil(wrist[1] + reach)) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        dx, dy = xs - wrist[0], ys - wrist[1]
        # Beyond the wrist's line (square to the forearm): behind it lie the forearm and, on a top, the garment
        # beside the wrist (a cream cardigan is of skin's colour: on ViViD upper1, reaching a hand's half width
        # behind the line took its cuffs and hem, recall 0.949 -> 0.938). Not on the other forearm (an arm held
        # across the body, or one yolo places behind the body, beside the visible one).
        near = (dx * dx + dy * dy <= reach * reach) & (dx * direction[0] + dy * direction[1] >= 0)
        other = arms["l" if side == "r" else "r"]
        if other is not None:
            near &= ~_on_forearm(xs, ys, *other, FOREARM_HALF_WIDTH * scale)
        skin_coloured = near & skin(frame[y0:y1, x0:x1]) & (person[y0:y1, x0:x1] > PERSON)
        candidates = skin_coloured
        if garment is not None:
            lab = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2LAB).astype(np.float32)
            candidates = skin_coloured & (garment.distance(lab) > GARMENT_DISTANCE)
        count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
        at_wrist = dx * dx + dy * dy <= (HAND_HALF_WIDTH * scale) ** 2
        touching = np.unique(labels[at_wrist & candidates])
        hand = np.isin(labels, touching[touching > 0])
        if garment is not None and hand.any():
            rim = 2 * max(1, int(round(RIM * scale))) + 1
            hand |= (cv2.dilate(hand.astype(np.uint8), np.ones((rim, rim), np.uint8)) > 0) & skin_coloured
        if hand.sum() <= MAX_HAND_AREA * scale * scale:
            found[y0:y1, x0:x1] |= hand
    return found


def hand_skin(
    frame: np.ndarray,
    pose: FramePose,
    person: np.ndarray,
    hands: np.ndarray,
    by_face: Callable[[np.ndarray], np.ndarray],
    garment: Colour | None = None,
) -> np.ndarray:
    """The skin that continues the hands' regions `hands` (bool `(H, W)`, what is kept of `hand_regions`) past their
    edge, bool `(H, W)`, for an RGB uint8 `frame` and its person probability `person`; empty without a body scale.

    A pixel is taken when it lies within `HAND_SKIN_REACH` of the regions, is the person's, in the skin box
    (`hair.skin`) and near the face's colour (`by_face`, the frame's `face_skin`: a light print on the old garment
    lies in the skin box, and beside a hand on gallery C6, a man's crossed arms over a grey tee, it was kept as a patch
    of the old print; with no face seen the caller follows nothing: on T5's side view a white tee's sleeve, in the skin
    box, was taken from hand points misplaced on it), not of the `garment`'s colour (within `GARMENT_DISTANCE`: a
    warm white or cream top is skin-coloured too), not on a forearm between its elbow and wrist (a long sleeve reaches
    the wrist and is drawn over the bare forearm there), and joined to the regions through such pixels."""
    found = np.zeros(hands.shape, bool)
    scale = torso_length(pose.body)
    if scale is None or not hands.any():
        return found
    reach = max(1, int(round(HAND_SKIN_REACH * scale)))
    # Work in the hands' box grown by the reach: a fraction of the frame.
    height, width = hands.shape
    ys, xs = np.nonzero(hands)
    y0, y1 = max(0, ys.min() - reach), min(height, ys.max() + reach + 1)
    x0, x1 = max(0, xs.min() - reach), min(width, xs.max() + reach + 1)
    seeds = hands[y0:y1, x0:x1]
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    candidates = (cv2.dilate(seeds.astype(np.uint8), disc) > 0) & (person[y0:y1, x0:x1] > PERSON)
    candidates &= skin(frame[y0:y1, x0:x1]) & by_face(frame[y0:y1, x0:x1])
    if garment is not None:
        lab = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2LAB).astype(np.float32)
        candidates &= garment.distance(lab) > GARMENT_DISTANCE
    ys, xs = np.nonzero(candidates)  # a few thousand pixels: the forearms are measured on them alone
    on_forearm = np.zeros(len(ys), bool)
    for side in HAND_INDEX:
        arm = _forearm(pose, side)
        if arm is not None:
            on_forearm |= _on_forearm(xs + x0, ys + y0, *arm, FOREARM_HALF_WIDTH * scale)
    candidates[ys[on_forearm], xs[on_forearm]] = False
    _, labels = cv2.connectedComponents((candidates | seeds).astype(np.uint8), connectivity=8)
    touching = np.unique(labels[seeds])
    found[y0:y1, x0:x1] = np.isin(labels, touching[touching > 0]) & ~seeds
    return found


def garment_by_hands(
    frame: np.ndarray,
    pose: FramePose,
    person: np.ndarray,
    region: np.ndarray,
    hands: np.ndarray,
    head: np.ndarray,
    garment: Colour | None = None,
    is_skin: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """The pixels of the hands' regions `hands` (`hand_regions`) inside `region` (the repaint mask) that show the
    garment, not the hand nor what it holds: bool `(H, W)`, for an RGB uint8 `frame`, its person probability
    `person` and the head's region `head` (`head.head_region`; both regions are the caller's, who keeps them too).

    A hand's region is a guess of where the hand is: on a hand resting on the hip or in a pocket most of it is the
    garment, which must be repainted (else the old garment shows as a hand-shaped patch). A pixel of it is the
    garment when it is the person's, not skin (`skin_test`), and within `GARMENT_DISTANCE` of the garment's colour
    (`garment_near_hands`: the region's person pixels, not skin, away from the head and the hands). A caller that has
    the garment's colour and the skin test (`skin_test`) already gives them as `garment` and `is_skin`; else they
    are read here."""
    found = np.zeros(region.shape, bool)
    scale = torso_length(pose.body)
    inside = hands & region
    if scale is None or not inside.any():
        return found
    if is_skin is None:
        is_skin = skin_test(frame, pose)
    if garment is None:
        garment = garment_near_hands(frame, pose, person, region, hands, head, is_skin)
    if garment is None:
        return found
    ys, xs = np.nonzero(inside)
    box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)  # the hands: a fraction of the frame
    lab = cv2.cvtColor(frame[box], cv2.COLOR_RGB2LAB).astype(np.float32)
    garment_coloured = garment.distance(lab) <= GARMENT_DISTANCE
    found[box] = inside[box] & (person[box] > PERSON) & garment_coloured & ~is_skin(frame[box])
    return found


def garment_near_hands(
    frame: np.ndarray,
    pose: FramePose,
    person: np.ndarray,
    region: np.ndarray,
    hands: np.ndarray,
    head: np.ndarray,
    is_skin: Callable[[np.ndarray], np.ndarray],
) -> Colour | None:
    """The colour of the garment the hands lie on (`hair.garment_colour`): `region`'s person pixels that are not
    skin (`is_skin`, this frame's `skin_test`), away from the head's region `head` and the hands' regions `hands`;
    None without a body scale or with too few such pixels."""
    scale = torso_length(pose.body)
    if scale is None:
        return None
    return garment_colour(frame, head, person, region & ~hands, scale, is_skin)


def skin_test(frame: np.ndarray, pose: FramePose) -> Callable[[np.ndarray], np.ndarray]:
    """Which pixels of an RGB uint8 image are this person's skin: by the face's colour (`face_skin`), or, with no
    face to learn it from, inside the skin box (`hair.skin`). The face's own colour is the finer test: a white tee in
    warm light lies inside the skin box."""
    return face_skin(frame, pose) or skin


def face_skin(frame: np.ndarray, pose: FramePose) -> Callable[[np.ndarray], np.ndarray] | None:
    """Which pixels of an RGB uint8 image are within `FACE_SKIN_DISTANCE` of the colour of this person's face (a
    Gaussian in CIELAB of the face box's skin-box pixels); None with no face in view (a back view, a head out of
    frame) or fewer than `MIN_SAMPLES` such pixels."""
    box = face_box(pose, *frame.shape[:2])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    face = frame[y0:y1, x0:x1]
    samples = cv2.cvtColor(face, cv2.COLOR_RGB2LAB)[skin(face)].astype(np.float32)
    if len(samples) < MIN_SAMPLES:
        return None
    colour = Colour(samples)
    return lambda rgb: colour.distance(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)) <= FACE_SKIN_DISTANCE


def _forearm(pose: FramePose, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(elbow, wrist, unit vector from the elbow to the wrist) of one side, or None."""
    wrist, elbow = point(pose.body, f"{side}_wrist"), point(pose.body, f"{side}_elbow")
    if wrist is None or elbow is None or not np.linalg.norm(wrist - elbow) > 0:
        return None
    return elbow, wrist, (wrist - elbow) / np.linalg.norm(wrist - elbow)


def _on_forearm(xs, ys, elbow, wrist, direction, half_width: float) -> np.ndarray:
    """bool: the pixels `xs, ys` within `half_width` of the forearm's axis, between the elbow and the wrist."""
    along = (xs - elbow[0]) * direction[0] + (ys - elbow[1]) * direction[1]
    across = np.abs((xs - elbow[0]) * direction[1] - (ys - elbow[1]) * direction[0])
    return (along >= 0) & (along < np.linalg.norm(wrist - elbow)) & (across <= half_width)
