"""The room seen through a gap the person segmentation closes, where the garment is not drawn.

The learned segmentation (`preprocess.person_segmentation`) runs at 256x256: a gap between a hanging arm and the
trunk narrower than a few of its pixels is "person" to it, and a garment with sleeves was drawn across the wall seen
there (gallery C2, 3DV-TON model_1 seen from the back, frame 58: a strip of white wall 20 pixels wide between her
arm and her coat painted over by the dress's sleeve and side, 8,800 pixels of the room changed in one frame).

The source itself says where the room is. Its colours are sampled in a ring outside the segmented person (`RING`);
the person's on the segmented pixels that the pose says are surely the body (`body_parts`: the trunk and the limbs
along their bones, not the gaps between them, whose room colours would count as the person's). A pixel is of the
room's colour where that colour is `ODDS` times as common in the ring as on the person, the person's share being the
mean of its parts' shares: the skin of a bare forearm weighs as much as the old garment on the trunk (pooled by
pixels, the trunk's garment outweighed it, and a room with a few skin-toned things in it took bare forearms for the
room: gallery T5, the sleeves cut ragged along them; the largest of the parts' shares instead let the few pixels of
room at a capsule's edge veto the room). It is the room where such pixels join it, without a break, to the ring: the
gap opens onto the room somewhere (below a hanging hand, above a hip). A closed gap (an arm bent back to the hip) is
left to the segmentation: a patch of the room's colours enclosed by the person is as likely a print on the garment.
Inside the segmented person, a piece of such pixels is the room only between the body's parts (`between_parts`: an
arm and the trunk, the two legs), where a gap is, and where the segmentation is unsure of most of it (`SURE`): a
shaded fold of a white tee has the colours of white shelves, and there the segmentation is right. Along the body's
outer edge the segmentation's own soft edge is unsure too, and the garment's edge pixels, blurred into a light wall,
have the wall's colours: cut there, a strip of the old tee showed along a back (gallery T7 frames 43-50, a striped
grey tee against a white wall, 1,454 crop pixels in frame 48) and moved from frame to frame; there the outline
(`dress.OUTLINE_MARGIN`) bounds the garment, as it did before the room was looked for.

Colours are the source's RGB in bins of 16 levels (`BINS`), compared bin by bin, so a multi-coloured room (a
curtain, a plant, a floor) is as well described as a plain wall.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.body import LIMB_RADII, capsule, fill_polygon, trunk_polygon
from tryon_cli.preprocess.keypoints import point, torso_length

# The ring where the room is sampled, in crop heights outside the segmented person: from just past the
# segmentation's own edge error (a few pixels of a 512-pixel crop) to about a forearm's length away, so the
# colours are those of the room beside this person rather than of the frame's far corners.
RING = (0.01, 0.08)
BINS = 16  # bins per RGB channel: 16 levels wide, wider than the noise of a compressed plain wall
# How much commoner a colour must be in the room's ring than on the person for a pixel of it to count as the room.
# The person's share includes their skin, hair and old garment, so a colour both have (a cream cardigan against a
# white wall) is not the room's.
ODDS = 4.0
MIN_SHARE = 2e-5  # ... and this share of the ring at least (spread: 20-30 ring pixels in the 27 bins round it)
MIN_SAMPLES = 200  # ring and person pixels needed for their colours to say anything
# The segmentation's probability from which it is sure of a pixel: a piece of the room it takes in is the room only
# where it is unsure of most of it (`_unsure`). At a gap narrower than its 256x256 input resolves, it is unsure
# (gallery C2 frame 58: the pieces' median probabilities 0.61-0.88); on a white tee's shaded fold between her arm
# and her side, which the colours alone took for the white shelves behind her, it is sure (T5 frames 101-103:
# median 1.0; a crack of the old tee showed down the new hoodie).
SURE = 0.95
HULL_SIDES = 16  # points round each joint of a capsule whose hull `between_parts` takes: 1.9% short of a circle
MIN_PART = 50  # a part's pixels needed for its colours to count (a limb mostly out of the crop or hidden does not)


def room_seen(
    source: np.ndarray,
    probability: np.ndarray,
    person: np.ndarray,
    body: np.ndarray,
    inside: np.ndarray,
    crop_height: int,
) -> np.ndarray:
    """bool (H, W): the pixels of the RGB uint8 `source` that show the room (see the module), for the person
    segmentation's `probability` (float 0..1) and the person it finds, `person` (bool), their pose `body`
    (OpenPose-18 in the same pixels) and `inside` (bool: the frame's pixels, not a crop's grey padding). Empty where
    the ring or the person has fewer than `MIN_SAMPLES` pixels."""
    # Each pixel's distance to the person (0 on it): one distance transform (1 ms on a 420x330 box), where growing
    # the person by discs of the ring's radii took 14 ms.
    distance = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    near = distance <= max(1.0, RING[0] * crop_height)
    ring = ~near & (distance <= RING[1] * crop_height) & inside
    parts = [part for part in (person & inside & p for p in body_parts(body, person.shape)) if part.sum() >= MIN_PART]
    room = np.zeros(person.shape, bool)
    if ring.sum() < MIN_SAMPLES or sum(part.sum() for part in parts) < MIN_SAMPLES:
        return room
    bins = (source // (256 // BINS)).astype(np.int32)
    index = (bins[..., 0] * BINS + bins[..., 1]) * BINS + bins[..., 2]
    room_share = _histogram(index[ring])
    person_share = np.mean([_histogram(index[part]) for part in parts], axis=0)
    roomlike = (room_share >= MIN_SHARE) & (room_share >= ODDS * person_share)
    # A 3x3 majority: a lone pixel of a colour rare in both (the room's noise, a compression artefact) takes its
    # neighbours' side, not a speckle of garment on the room nor a pinhole in the garment.
    coloured = (cv2.medianBlur(roomlike[index].astype(np.uint8), 3) > 0) & inside
    count, labels = cv2.connectedComponents(coloured.astype(np.uint8), connectivity=8)
    if count <= 1:
        return room
    joined = np.unique(labels[coloured & ~near])
    room = np.isin(labels, joined[joined > 0])
    return room & (~person | _unsure(room & person & between_parts(body, person.shape), probability))


def _unsure(pieces: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """bool: the pieces (8-connected) of `pieces` where the segmentation's `probability` is below `SURE` on more than
    half their pixels."""
    count, labels = cv2.connectedComponents(pieces.astype(np.uint8), connectivity=8)
    if count <= 1:
        return pieces
    sure = np.bincount(labels[pieces], weights=probability[pieces] >= SURE, minlength=count)
    size = np.bincount(labels[pieces], minlength=count)
    unsure = sure < 0.5 * np.maximum(size, 1)
    unsure[0] = False
    return unsure[labels]


def body_parts(body: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """bool `shape` each: where the pose `body` says the body surely is, part by part: the trunk's quadrilateral
    and each limb's capsule at a bare limb's radius (`body.LIMB_RADII`), sleeved or not, no wider; empty without a
    body scale."""
    scale = torso_length(body)
    if scale is None:
        return []
    parts = []
    trunk = trunk_polygon(body, 0.0)
    if trunk is not None:
        canvas = np.zeros(shape, np.uint8)
        fill_polygon(canvas, trunk)
        parts.append(canvas > 0)
    for side in "rl":
        for bone, radius in LIMB_RADII.items():
            canvas = np.zeros(shape, np.uint8)
            a, b = bone.split("-")
            capsule(canvas, point(body, f"{side}_{a}"), point(body, f"{side}_{b}"), radius * scale)
            parts.append(canvas > 0)
    return parts


def between_parts(body: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool `shape`: where a gap between the body's parts can be: the convex hull of the trunk's quadrilateral with
    each arm's capsules (`body.LIMB_RADII`), and of the two legs' capsules; empty without a body scale. The body's
    outer edge (a back, an arm's outer side, a skirt's hem) lies outside it."""
    scale = torso_length(body)
    hulls = np.zeros(shape, np.uint8)
    if scale is None:
        return hulls > 0
    trunk = trunk_polygon(body, 0.0)
    corners = np.zeros((0, 2)) if trunk is None else trunk.reshape(-1, 2)
    for side in "rl":
        arm = _capsule_points(body, [(side, "shoulder-elbow"), (side, "elbow-wrist")], scale)
        _fill_hull(hulls, np.concatenate([corners, arm]))
    _fill_hull(hulls, _capsule_points(body, [(s, b) for s in "rl" for b in ("hip-knee", "knee-ankle")], scale))
    return hulls > 0


def _capsule_points(body: np.ndarray, bones: list[tuple[str, str]], scale: float) -> np.ndarray:
    """(N, 2) points round both joints of each of `bones` (side, bone of `body.LIMB_RADII`) that `body` has whole,
    at the capsule's radius: their convex hull is the capsules' (`body.capsule` draws no bone with a joint missing
    either)."""
    angles = np.linspace(0, 2 * np.pi, HULL_SIDES, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rings = [np.zeros((0, 2))]
    for side, bone in bones:
        ends = [point(body, f"{side}_{joint}") for joint in bone.split("-")]
        if all(end is not None for end in ends):
            rings.extend(end + LIMB_RADII[bone] * scale * circle for end in ends)
    return np.concatenate(rings)


def _fill_hull(canvas: np.ndarray, points: np.ndarray) -> None:
    """Draws 1 on uint8 `canvas` inside the convex hull of `points` ((N, 2) x, y), if there are three or more."""
    if len(points) >= 3:
        cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(points).astype(np.int32)), 1)


def _histogram(index: np.ndarray) -> np.ndarray:
    """(BINS**3,): the share of the bin indices `index` in each colour bin, spread over each bin's neighbours (a
    3-bin average along each channel): a room's texture and noise put some of its pixels in bins next to the ones
    its ring fills, and without the spread those pixels passed for the person, a speckle of garment left on the
    room (a textured room in `tests/test_warp_do_no_harm.py`)."""
    counts = np.bincount(index, minlength=BINS**3).reshape(BINS, BINS, BINS).astype(np.float64)
    for axis in range(3):
        padded = np.pad(counts, [(1, 1) if a == axis else (0, 0) for a in range(3)])
        counts = sum(np.take(padded, range(k, k + BINS), axis=axis) for k in range(3)) / 3
    return counts.reshape(-1) / len(index)
