"""The lower garment under a top: the skirt or trousers inside a top's region, which a top's try-on never repaints.

Conventions as in `preprocess/hair.py`: a `FramePose` in frame pixels, frames RGB uint8 `(H, W, 3)`, regions bool
`(H, W)` in the same pixels (True = the lower garment, keep the source pixel).

A top's region (`masks.PARTS["upper"]`) reaches below the hips, because a new top may be longer than the old one
and the old one's hem must not show. Where the old top ends higher (a cropped cardigan over a high-waisted skirt on
ViViD upper1, a tee tucked into a red skirt, a crop top over cargo trousers) the region holds the top of the lower
garment, which is not the garment being replaced: drawn over, the skirt's waistband is repainted as the new top.
The human-parsing masks of ViViD and VITON-HD keep the lower garment's labels; so does this: the new top reads as
tucked in.

The pose does not say where the old top ends; the cue is colour, continuous with the thighs:

1. The lower garment's colour (a Gaussian in CIELAB, `hair.Colour`) is learned on the thighs: the pixels within
   `THIGH_RADIUS` of each hip-to-knee bone, over `THIGH_SPAN` of it, below where any top's region reaches. Neither
   skin nor the person segmentation's background is left out: the skin box (`hair.skin`) holds khaki and camel
   too, and the segmentation loses a white skirt on a white wall in single frames (ViViD upper1).
2. The old top's colour is learned on the chest: the region's pixels within `CHEST_HALF_WIDTH` of the spine, over
   `CHEST_SPAN` of it (a crop top ends below; skin is not left out here either: upper1's cream cardigan is in the
   skin box).
3. When more than `MAX_CONFUSED` of the top's own samples are taken for the lower garment, the two are of one
   colour (a black top over black trousers, a dress) and nothing is kept: keeping top-coloured pixels would leave
   the old top showing.
4. The lower garment is the pixels nearer its colour than the top's and within `MAX_DISTANCE` of it (closed, then
   opened, by ~1 cm), of the person (`PERSON_LOW`), not on an arm (`ARM_RADIUS`), below the waist (`WAIST_RISE`
   above the hip line), connected to the thighs' samples. Seen from the side, the hips' core is the person whatever
   the segmentation says, and the far arm, which lies across the trunk, is not left out (`SIDE_CORE_RADIUS`). Where
   it meets the top's colour the edge goes to the top by ~1 cm (the old top's hem must not show; a sliver of
   waistband under the new top may); what it encloses (buttons, rivets, a buckle) is its own, and so is a notch in
   its top edge narrower than `NOTCH` (a column of buttons up to the old top's hem).
5. In a video (`LowerGarment`) the lower garment persists: it is kept only where it was found in the frame before
   as well, within `hair.PERSIST`. On the shared wild clip fashionchameleon_case4 (a white cardigan over a white
   skirt, the two told apart only now and then) single frames found the skirt's top, and a new top would have
   jumped up to the waist and back for one frame each.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.hair import MIN_SAMPLES, PERSIST, Colour, closed_then_opened, opening_kernel
from tryon_cli.preprocess.keypoints import FramePose, midpoint, near_arm, pixel, point, seen_from_side, torso_length

THIGH_SPAN = (0.25, 0.6)
"""The share of the hip-to-knee bone whose pixels teach the lower garment's colour: below the top's region (its
hem reaches 0.17 trunk lengths below the hips, about 0.2 of the bone), above the knee, where a skirt may end."""
THIGH_RADIUS = 0.05
"""... within this many trunk lengths of the bone: inside the thigh (its half width is ~0.1)."""
CHEST_SPAN = (0.15, 0.45)
"""The share of the spine (neck to mid-hip) whose pixels teach the old top's colour: below the collar, above the
midriff a crop top leaves bare."""
CHEST_HALF_WIDTH = 0.15
"""... within this many trunk lengths of the spine: inside the chest, clear of the arms beside it."""
MAX_DISTANCE = 3.0
"""A pixel of the lower garment lies within 3 standard deviations (Mahalanobis) of its colour."""
MAX_CONFUSED = 0.1
"""More of the top's samples than this taken for the lower garment: the two are of one colour, nothing is kept. On
ViViD upper1 (cream cardigan, white skirt, the closest pair of the shared clips) at most 0.03 are."""
ARM_RADIUS = 0.08
"""An arm hanging beside the hips is the top's sleeve, not the lower garment, whatever its colour: pixels within this
many trunk lengths of an arm's bones are never taken (a sleeve's half width is ~0.08; ViViD upper1's cream sleeves,
next to her white skirt, were taken without it)."""
WORK_TRUNK = 160
"""Pixels to a trunk length at which the colours are read and the garment traced (a frame with a larger person is
shrunk to it): the opening's ~1 cm is still 3 pixels, and the 1080x1920 dancer costs ~10 ms a frame, not ~65."""
PERSON_LOW = 0.25
"""Person-segmentation probability above which a pixel may be the lower garment: the wall beside a skirt of its
colour is not (the connection through it reached the arms). Not 0.5: on upper1 the segmentation puts the white
skirt on the white wall at 0.3-0.6 in every other frame of the turn (frames 2-5), and the kept skirt flickered."""
NOTCH = 0.08
"""A gap in the lower garment's top edge narrower than this many trunk lengths (about 4 cm on a 50 cm trunk) is its
own: a column of buttons down a placket (a jeans button is ~1.7 cm) that reaches the old top's hem is not enclosed,
and left in the mask each button was drawn over as a drip of the new top (gallery C9's high-waisted jeans). Wider
is a hand or the old top's hem hanging into the waistband."""
WAIST_RISE = 0.45
"""The lower garment reaches at most this many trunk lengths above the hip joints: a high-rise waistband sits at the
natural waist, ~0.3 (`masks.MaskShape.waist_rise`), with room for a corset skirt's."""

SIDE_CORE_SPAN = (-0.4, 0.6)
"""The share of the hip-to-knee bone around which a body seen from the side is the person (`SIDE_CORE_RADIUS`)."""
SIDE_CORE_RADIUS = 0.2
"""Seen from the side (`keypoints.seen_from_side`), the pixels within this many trunk lengths of a hip-to-knee bone,
over `SIDE_CORE_SPAN` of it (from ~0.4 trunk lengths above the hips, the waist, down to the thighs' samples), count
as the person whatever the segmentation says, and only the near arm is left out (`keypoints.near_arm`). A body seen
from the side is ~0.35 trunk lengths deep with its hip joints in the middle. On the shipped example (ViViD upper1),
as she turns from the side (frames 0-10), the segmentation lost her white skirt on the white wall above the thighs,
and the far arm's keypoints, across the trunk, cut what was left in two: the skirt was kept only in part, and the
new tee was drawn over its top as a long strip."""


class LowerGarment:
    """The lower garment of each frame of one person's video, in order: call it on each frame with its pose, the
    person segmentation's probability and the top's region (`lower_garment`), and it returns what was found there
    and in the frame before (within `PERSIST` trunk lengths). The first frame, or a photo, has no frame before: its
    lower garment is taken as found."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, pose: FramePose, person: np.ndarray, region: np.ndarray) -> np.ndarray:
        found = lower_garment(frame, pose, person, region)
        previous, self._previous = self._previous, found
        rows, cols = np.nonzero(found.any(axis=1))[0], np.nonzero(found.any(axis=0))[0]
        if previous is None or not len(rows):
            return found
        # Near the previous frame's, looked at only around this frame's (a dilation of the whole 1080x1920 frame by
        # 0.05 trunk lengths cost ~90 ms a frame on the dancer).
        radius = PERSIST * torso_length(pose.body)
        box = tuple(
            slice(max(0, int(first - radius)), int(last + radius) + 2)
            for first, last in ((rows[0], rows[-1]), (cols[0], cols[-1]))
        )
        near = cv2.distanceTransform((~previous[box]).astype(np.uint8), cv2.DIST_L2, 5) <= radius
        kept = np.zeros_like(found)
        kept[box] = found[box] & near
        return kept


def lower_garment(frame: np.ndarray, pose: FramePose, person: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The lower garment's pixels inside a top's `region`, bool `(H, W)` (see the module); `person` is the person
    segmentation's probability `(H, W)`. Empty without the neck, the hips, a knee, or two colours that can be told
    apart."""
    height, width = region.shape
    lower = np.zeros((height, width), bool)
    body = pose.body
    scale = torso_length(body)
    hips = midpoint(point(body, "r_hip"), point(body, "l_hip"))
    if scale is None or point(body, "neck") is None or hips is None:
        return lower
    thighs = _bands(body, (("hip", "knee"),), THIGH_SPAN, THIGH_RADIUS * scale, height, width)
    within = region | thighs
    if not region.any() or not thighs.any():
        return lower
    # Everything below works in the box of the region and the thighs, at most WORK_TRUNK pixels to a trunk length.
    rows, cols = np.nonzero(within.any(axis=1))[0], np.nonzero(within.any(axis=0))[0]
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    box_height, box_width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    shrink = min(1.0, WORK_TRUNK / scale)
    size = (max(1, round(box_width * shrink)), max(1, round(box_height * shrink)))
    shifted = body.copy()
    shifted[:, :2] = (shifted[:, :2] - (cols[0], rows[0])) * shrink
    found = _lower_in(
        cv2.resize(frame[box], size, interpolation=cv2.INTER_AREA),
        shifted,
        scale * shrink,
        cv2.resize(person[box], size, interpolation=cv2.INTER_LINEAR),
        _resized(region[box], size),
        _resized(thighs[box], size),
    )
    back = cv2.resize(found.astype(np.float32), (box_width, box_height), interpolation=cv2.INTER_LINEAR)
    lower[box] = (back > 0.5) & region[box]
    return lower


def _resized(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def _lower_in(
    frame: np.ndarray, body: np.ndarray, scale: float, person: np.ndarray, region: np.ndarray, thighs: np.ndarray
) -> np.ndarray:
    """`lower_garment` in a box: the frame, body points, person and region cut to it, the thighs' samples given."""
    height, width = region.shape
    none = np.zeros((height, width), bool)
    neck, hips = point(body, "neck"), midpoint(point(body, "r_hip"), point(body, "l_hip"))
    down = (hips - neck) / max(float(np.linalg.norm(hips - neck)), 1e-6)
    chest = _band(neck, hips, CHEST_SPAN, CHEST_HALF_WIDTH * scale, (height, width)) & region
    if thighs.sum() < MIN_SAMPLES or chest.sum() < MIN_SAMPLES:
        return none
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)
    lower, top = Colour(lab[thighs]), Colour(lab[chest])
    if _is_lower(lower, top, top.samples).mean() > MAX_CONFUSED:
        return none
    ys, xs = np.mgrid[0:height, 0:width]
    below_waist = (xs - hips[0]) * down[0] + (ys - hips[1]) * down[1] > -WAIST_RISE * scale
    on_person = (person > PERSON_LOW) | thighs
    arms = ("r", "l")
    if seen_from_side(body):
        on_person |= _bands(body, (("hip", "knee"),), SIDE_CORE_SPAN, SIDE_CORE_RADIUS * scale, height, width)
        arms = (near_arm(body),)
    arm_bones = (("shoulder", "elbow"), ("elbow", "wrist"))
    on_arms = _bands(body, arm_bones, (0.0, 1.0), ARM_RADIUS * scale, height, width, sides=arms)
    candidates = below_waist & on_person & ~on_arms
    coloured = np.zeros((height, width), np.uint8)
    coloured[candidates] = _is_lower(lower, top, lab[candidates])
    kernel = opening_kernel(scale)
    coloured = closed_then_opened(coloured, kernel)
    _, labels = cv2.connectedComponents(coloured, connectivity=8)
    touching = np.unique(labels[thighs & (coloured > 0)])
    found = _filled(_notches_closed(np.isin(labels, touching[touching > 0]), scale))
    # Where it meets the top's colour, the edge goes to the top by the opening's radius (a camera blends the two).
    rest = region & ~found
    top_coloured = np.zeros((height, width), np.uint8)
    top_coloured[rest] = top.distance(lab[rest]) < MAX_DISTANCE
    return found & (cv2.dilate(top_coloured, kernel) == 0) & region


def _notches_closed(region: np.ndarray, scale: float) -> np.ndarray:
    """bool: `region` with its gaps narrower than `NOTCH` across (along the rows) closed: a notch in its top edge,
    such as a column of buttons that reaches the old top's hem, becomes its own, as an enclosed hole does
    (`_filled`)."""
    length = 2 * max(1, int(round(NOTCH * scale / 2))) + 1
    kernel = np.ones((1, length), np.uint8)
    return cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0


def _filled(region: np.ndarray) -> np.ndarray:
    """bool: `region` with its holes filled: what the lower garment encloses is its own (buttons, rivets, a buckle).
    Left in the mask, each is drawn over as a spot of the new top (gallery C9's jeans buttons)."""
    outside = np.pad(~region, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return outside[1:-1, 1:-1] != 2


def _is_lower(lower: Colour, top: Colour, lab: np.ndarray) -> np.ndarray:
    """bool `(N,)`: which CIELAB colours `lab (N, 3)` are the lower garment's: nearer it than the top's, and near."""
    d_lower = lower.distance(lab)
    return (d_lower < MAX_DISTANCE) & (d_lower < top.distance(lab))


def _bands(body: np.ndarray, bones, span, half_width: float, height: int, width: int, sides=("r", "l")) -> np.ndarray:
    """bool `(H, W)`: `_band` along each of `bones` (pairs of joint names) on `sides` of the body, where seen."""
    bands = np.zeros((height, width), bool)
    for side in sides:
        for start, end in bones:
            a, b = point(body, f"{side}_{start}"), point(body, f"{side}_{end}")
            if a is not None and b is not None:
                bands |= _band(a, b, span, half_width, (height, width))
    return bands


def _band(a: np.ndarray, b: np.ndarray, span: tuple[float, float], half_width: float, shape) -> np.ndarray:
    """bool `shape`: the pixels within `half_width` of the segment `a`-`b` between shares `span` of it."""
    canvas = np.zeros(shape, np.uint8)
    start, end = (a + (b - a) * share for share in span)
    cv2.line(canvas, pixel(start), pixel(end), 1, max(1, int(round(2 * half_width))))
    return canvas > 0
