"""Garment landmarks estimated from the garment's own outline on a product photo, without a model (the rules with
their reasons are in docs/preprocessing.md). A flat-lay garment seen from the front: its right side is on the image
left.

Features found on the outline: the shoulder points (where the gently sloping shoulder line turns into the steep
sleeve or armhole edge), the armpits (the deepest concavity under each sleeve: a convexity defect of the outline),
each sleeve (the part beyond the line from shoulder point to armpit) and its end, the hem, and for a lower garment
the crotch (the deepest concavity between the legs) and each leg's hem. Joints that no feature marks (a dress's
hips and knees, a pair of trousers' knees) follow human proportions from those features.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.garment_landmarks.layout import OFF_GARMENT, ON_GARMENT, PROPORTIONAL, SCHEMAS
from tryon_cli.preprocess.garment_landmarks.silhouette import background_like, shadowless_silhouette
from tryon_cli.preprocess.keypoints import GarmentLandmarks
from tryon_cli.preprocess.masks import check_category

SHOULDER_SLOPE = 1.0
"""The shoulder point is where the top outline, walked outward from the neck, first gets steeper than 45 degrees."""
LOOKAHEAD = 6
"""... and stays mostly that steep over the next 6 steps (a collar's edge drops steeply for one step only)."""
LONG_SLEEVE = 1.0
"""A sleeve at least as long (shoulder point to its end) as the shoulders are wide reaches the wrist."""
LONG_LEG = 1.2
"""A leg at least 1.2 rises long (crotch to hem; the rise is waistband to crotch) reaches the ankle."""
HOOD_SHELF = 0.06
"""A steep drop outward from the neckline followed by a gentle outline at least 6% of the garment's width long
is a hood's or a standing collar's side, not the shoulder's end: the shoulder line goes on below it (T5's hoodie:
its sloping shoulders run gently for 0.075 of its width below the hood)."""
HOOD_DROP = 0.25
"""... and drops by at most a quarter of the garment's height (T5's hoodie: 0.12; a gown's strap falls much further)."""
INWARD = 0.5
"""A sleeve whose end lies further in towards the body's middle than half its drop below the shoulder point (27
degrees off the vertical, inwards) is a sliver cut from a shoulder point put on a sleeve's end (the two tees:
0.86-1.29; long sleeves laid down beside the body: under 0.1)."""
SYMMETRY = 0.9
"""A side whose shoulder point lies at least 0.9 as far from the centre as a side found on its sleeve's top is on
its sleeve's top too (`_not_on_the_sleeves`)."""
LEVEL = 0.15
"""... as long as the moved shoulders lie level, their slope under 0.15 (9 degrees; the two tees: 0.01 and 0.05),
as a garment laid flat has them."""
HIP_INSET = 0.12
"""Hip joints lie inside the body's outline: pulled in from each side of the hem (upper, dress) by 12 % of its width."""
HIP_INSET_LOWER = 0.22
"""... and on trousers and skirts, whose waist is the body's full width, by 22 %."""
HIP_BELOW_CROTCH = 0.35
"""Trousers: the hip joints sit 0.35 rises above the crotch (about 10 cm on a 28 cm rise)."""
HEM_BAND = 0.15
"""The hips' hem is measured under the middle 0.3 shoulder widths of the garment (`_hem_under`)."""
PRESSED_BEYOND = 0.1
"""An upper garment's side without an armpit whose outline, halfway from its shoulder point down to the hem, lies
at least this many shoulder widths beyond the shoulder point may hold a sleeve laid down against the body
(`_pressed_sleeve`): the sleeve widens the garment past its shoulders (T5's hoodie: 0.19 and 0.21; the shared
sleeveless tops, which have armpits, -0.07 to 0.04)."""
SEAM_CONTRAST = 10.0
"""The seam between a sleeve laid against the body and the body is a straight line down the garment whose mean
horizontal gradient is at least 10 times the garment's median (T5's hoodie: 35 and 50)..."""
SEAM_ROWS = 0.9
"""... and at least 3 times it in 90 % of its rows (the hoodie: all of them): a seam runs the sleeve's whole
length, a print's or a pocket's edge does not."""
SLEEVE_WIDTHS = (0.08, 0.45)
"""The seam is searched this many shoulder widths in from the garment's outline (the hoodie's sleeves: 0.17-0.3)."""
DRESS_HIPS = 1.25
"""Dress: the hips sit 1.25 shoulder widths below the shoulder line (a torso length) and the knees one shoulder
width further."""


def _profile(mask: np.ndarray) -> np.ndarray:
    """Per column, the garment's first row (its top outline); columns without garment get the image height."""
    return np.where(mask.any(axis=0), mask.argmax(axis=0), mask.shape[0]).astype(np.float64)


def _shoulder(
    profile: np.ndarray, centre: float, side: int, step: int, tolerance: float, empty: int, height: float
) -> np.ndarray:
    """(x, y) of the shoulder point on side `side` (-1: image left). From the neckline's outer corner (the
    outermost column of that side within `tolerance` rows of its highest point) walk outward until the top
    outline descends faster than SHOULDER_SLOPE over `step` columns (a sleeve's edge, or the armhole's drop), past
    a hood's or a standing collar's side (`_below_hood`; `height`: the garment's, rows). Columns without garment
    hold `empty` (the image height)."""
    span = int((profile < empty).sum())  # the garment's width in columns
    columns = np.arange(len(profile))
    half = columns[((columns - centre) * side >= 0) & (profile < empty)]  # this side's garment columns
    if not len(half):
        half = np.array([int(round(centre))])
    top = profile[half].min()
    near_top = half[profile[half] <= top + tolerance]
    x = int(near_top.max() if side > 0 else near_top.min())
    while 0 <= x + side * (LOOKAHEAD + 1) * step < len(profile):
        ahead = profile[x + side * step * np.arange(LOOKAHEAD + 1)]
        # A step is steep where the outline drops faster than the slope, or where the garment has ended.
        steep = (np.diff(ahead) > SHOULDER_SLOPE * step) | (ahead[1:] >= empty)
        # Steep now and mostly steep ahead: a sleeve's edge or the armhole, not a collar's step down to the shoulder.
        if steep[0] and steep.mean() >= 0.5:
            shoulder_line = _below_hood(profile, x, side, step, empty, span, HOOD_DROP * height)
            if shoulder_line is not None:
                x = shoulder_line
                continue
            ahead = x + side * np.arange(1, step + 1)
            gentle = ahead[profile[ahead] - profile[x] <= SHOULDER_SLOPE * np.abs(ahead - x)]
            x = int(gentle[-1]) if len(gentle) else x
            break
        x += side * step
    return np.array([x, profile[x]], np.float64)


def _below_hood(profile: np.ndarray, x: int, side: int, step: int, empty: int, span: int, deepest: float) -> int | None:
    """The column where a hood's (or a standing collar's) side, dropping steeply from column `x` outward, lands on
    the shoulder line; None where the drop at `x` is the shoulder's own end. A hood's side is followed by a gentle
    shoulder line (on the whole) at least `HOOD_SHELF` of the garment's width long; a sleeve's edge
    or an armhole runs down to the sleeve's end or the garment's side. A drop deeper than `deepest` rows is no hood
    (a gown's strap falls to its skirt's flare, which spreads gently). (T5's hoodie: the shoulders were put on the
    hood's top corners and the whole hoodie, sleeves too, became one torso part)."""
    land = x
    while True:  # down the drop while the outline is steep over the next two steps (one step may round gentle)
        ahead = land + side * step * np.arange(3)
        if ahead[-1] < 0 or ahead[-1] >= len(profile) or (profile[ahead] >= empty).any():
            return None  # the garment ends while the outline still drops: a sleeve's or the body's edge
        if profile[ahead[-1]] - profile[land] <= SHOULDER_SLOPE * 2 * step:
            break
        land += side * step
    if profile[land] - profile[x] > deepest:
        return None
    shelf = land + side * np.arange(0, int(HOOD_SHELF * span) + 1, step)
    if shelf[-1] < 0 or shelf[-1] >= len(profile) or (profile[shelf] >= empty).any():
        return None
    # Gentle on the whole: a drooping shoulder line is steeper than the slope here and there (T5's hoodie).
    gentle = profile[shelf[-1]] - profile[land] <= SHOULDER_SLOPE * abs(int(shelf[-1]) - land)
    return int(land) if land != x and gentle else None


def _concavities(mask: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(deepest point (x, y), depth in pixels) of each concavity of the outline (convexity defects)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    # A lightly simplified outline keeps the hull's indices monotonic, which convexityDefects requires.
    contour = cv2.approxPolyDP(contour, 1.0, True)
    hull = cv2.convexHull(contour, returnPoints=False)
    try:
        defects = cv2.convexityDefects(contour, hull)
    except cv2.error:  # a self-touching outline OpenCV cannot take: no concavities found
        return []
    if defects is None:
        return []
    return [(contour[far, 0].astype(np.float64), depth / 256.0) for _, _, far, depth in defects.reshape(-1, 4)]


def _armpit(concavities, centre: float, side: int, shoulder: np.ndarray, hem: float, min_depth: float):
    """The deepest concavity on this side below the shoulder and in the upper three quarters of the body."""
    found = [
        (point, depth)
        for point, depth in concavities
        if (point[0] - centre) * side > 0
        and shoulder[1] < point[1] < shoulder[1] + 0.75 * (hem - shoulder[1])
        and depth >= min_depth
    ]
    return max(found, key=lambda f: f[1])[0] if found else None


def _sleeve(mask: np.ndarray, shoulder: np.ndarray, armpit: np.ndarray, side: int, width: float):
    """The sleeve's pixels (k, 2) as (x, y): the garment beyond the line from the shoulder point to the armpit,
    or None when that part is too small to be a sleeve (sleeveless: only the armhole's edge lies beyond)."""
    direction = (armpit - shoulder) / max(np.linalg.norm(armpit - shoulder), 1e-6)
    reach = 0.05 * width
    cut = mask.astype(np.uint8).copy()
    start, stop = shoulder - direction * reach, armpit + direction * reach
    cv2.line(cut, tuple(int(v) for v in np.round(start)), tuple(int(v) for v in np.round(stop)), 0, 3)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(cut, connectivity=4)
    normal = np.array([direction[1], -direction[0]])
    normal *= np.sign(normal[0] * side) or 1  # away from the body
    outside = [k for k in range(1, count) if (centroids[k] - shoulder) @ normal > 0]
    if not outside:
        return None
    best = max(outside, key=lambda k: stats[k, cv2.CC_STAT_AREA])
    ys, xs = np.nonzero(labels == best)
    pixels = np.stack([xs, ys], axis=1).astype(np.float64)
    far = np.linalg.norm(pixels - shoulder, axis=1).max()
    if len(pixels) < 0.01 * mask.sum() or far < 0.2 * width:
        return None
    return pixels


def _arm(pixels: np.ndarray, shoulder: np.ndarray, armpit: np.ndarray, width: float, size: tuple[int, int]):
    """(elbow, wrist) rows of (x, y, conf) for one sleeve.

    The sleeve's outer edge runs from the shoulder point to the cuff's outer corner, the sleeve pixel farthest from
    the root line (shoulder point to armpit); that edge is the arm's direction, and the sleeve's end is the middle
    between the cuff's corners (in the sleeve's last 10 % along it, the points farthest out along it and to either
    side). A long sleeve ends at the wrist, its elbow is the middle of its centre line; a short
    sleeve's end stands for the elbow and the wrist continues the sleeve's line beyond the cloth (OFF_GARMENT: a
    direction, not a place on the garment)."""
    root = (armpit - shoulder) / max(np.linalg.norm(armpit - shoulder), 1e-6)
    off_root = np.abs((pixels - shoulder) @ np.array([root[1], -root[0]]))
    corner = pixels[np.argmax(off_root)]
    axis = (corner - shoulder) / max(np.linalg.norm(corner - shoulder), 1e-6)
    along = (pixels - shoulder) @ axis
    near_end = along >= 0.9 * along.max()
    band, far = pixels[near_end], along[near_end]
    across = (band - shoulder) @ np.array([axis[1], -axis[0]])
    # The cuff's corners: the points farthest out diagonally, along the arm and to either side of it.
    end = (band[np.argmax(far + across)] + band[np.argmax(far - across)]) / 2
    length = float(np.linalg.norm(end - shoulder))
    if length >= LONG_SLEEVE * width:
        middle = _middle_at(pixels, along, along.max() / 2)
        return np.array([*middle, ON_GARMENT]), np.array([*end, ON_GARMENT])
    wrist = np.clip(end + 0.8 * (end - shoulder), 0, [size[1] - 1, size[0] - 1])
    return np.array([*end, ON_GARMENT]), np.array([*wrist, OFF_GARMENT])


def _middle_at(pixels: np.ndarray, along: np.ndarray, at: float) -> np.ndarray:
    """The mean of a sleeve's `pixels` whose distance `along` its axis lies within 0.06 `at` of `at` (3 % of the
    sleeve's length when `at` is half of it), or of the nearest ones: the middle of its centre line there."""
    off = np.abs(along - at)
    return pixels[off <= max(0.06 * at, off.min())].mean(axis=0)


def _pressed_sleeve(image: np.ndarray, mask: np.ndarray, shoulder: np.ndarray, side: int, hem: float, width: float):
    """(the sleeve's pixels (k, 2) as (x, y), elbow, wrist) of a long sleeve laid down against the body on side
    `side`, or None. Such a sleeve leaves no armpit in the outline (its concavity is under the cuff, or none); what
    marks it is the seam between sleeve and body, a straight edge down the garment (in `image`, the photo, the
    horizontal gradient's magnitude). Searched from 0.35 to 0.88 of the way from the shoulder point to the hem, between
    `SLEEVE_WIDTHS` in from the outline; found where it is as strong as `SEAM_CONTRAST` and `SEAM_ROWS` say. The
    sleeve is the garment outward of the line from the shoulder point to the seam's top and on down the seam."""
    height, width_px = mask.shape
    span = hem - shoulder[1]
    halfway = _outer_column(mask, (shoulder[1] + hem) / 2, side)
    if halfway is None or (halfway - shoulder[0]) * side < PRESSED_BEYOND * width:
        return None
    y0, y1 = int(shoulder[1] + 0.35 * span), int(hem - 0.12 * span)
    e0, e1 = _outer_column(mask, y0, side), _outer_column(mask, y1, side)
    if e0 is None or e1 is None or y1 - y0 < 10:
        return None
    gradient = _horizontal_gradient(image)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    base = max(1.0, float(np.median(gradient[inner])))
    rows = np.arange(y0, y1 + 1, max(1, (y1 - y0) // 100))
    offsets = np.arange(*(np.array(SLEEVE_WIDTHS) * width).astype(int), max(1, int(width / 100)))
    t = (rows - y0) / (y1 - y0)
    best = None  # (mean gradient, top x, bottom x)
    for d0 in offsets:
        # Every bottom offset at once: (len(offsets), len(rows)) columns of the candidate lines.
        top, bottom = e0 - side * d0, e1 - side * offsets
        columns = np.round(top + (bottom[:, None] - top) * t).astype(int)
        columns = np.clip(columns, 2, width_px - 3)
        # A seam's edge is a pixel or two wide and the line only near it: the strongest within 2 pixels.
        values = np.max([gradient[rows, columns + k] for k in range(-2, 3)], axis=0)
        on_garment = inner[rows, columns].mean(axis=1) >= 0.95
        steady = (values > 3 * base).mean(axis=1) >= SEAM_ROWS
        strength = np.where(on_garment & steady, values.mean(axis=1), 0.0)
        k = int(strength.argmax())
        if strength[k] >= SEAM_CONTRAST * base and (best is None or strength[k] > best[0]):
            best = (float(strength[k]), float(top), float(bottom[k]))
    if best is None:
        return None
    _, top, bottom = best
    slope = (bottom - top) / (y1 - y0)
    outer = 0 if side < 0 else width_px - 1
    cut = np.array(
        [shoulder, (top, y0), (top + slope * (height - 1 - y0), height - 1), (outer, height - 1), (outer, shoulder[1])]
    )
    region = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(region, [np.round(cut).astype(np.int32)], 1)
    ys, xs = np.nonzero((region > 0) & mask)
    pixels = np.stack([xs, ys], axis=1).astype(np.float64)
    if len(pixels) < 0.03 * mask.sum():
        return None
    # Its end: the middle of its lowest tenth; its elbow the middle of its pixels halfway along.
    lowest = pixels[:, 1] >= pixels[:, 1].max() - 0.1 * (pixels[:, 1].max() - shoulder[1])
    end = pixels[lowest].mean(axis=0)
    axis = (end - shoulder) / max(float(np.linalg.norm(end - shoulder)), 1e-6)
    along = (pixels - shoulder) @ axis
    length = float(np.linalg.norm(end - shoulder))
    if length < LONG_SLEEVE * width:
        return None  # a seam this long belongs to a long sleeve; anything shorter is something else
    middle = _middle_at(pixels, along, length / 2)
    return pixels, np.array([*middle, ON_GARMENT]), np.array([*end, ON_GARMENT])


def _outer_column(mask: np.ndarray, y: float, side: int) -> int | None:
    """The garment's outermost column on side `side` in row `y`, or None where the row is empty."""
    columns = np.nonzero(mask[int(np.clip(round(y), 0, mask.shape[0] - 1))])[0]
    if not len(columns):
        return None
    return int(columns.min() if side < 0 else columns.max())


def _hem_under(torso: np.ndarray, centre: float, width: float) -> float:
    """The row of the torso's hem under the body's middle: per column within `HEM_BAND` shoulder widths of the
    centre, the torso's lowest row, their median. Not the torso's lowest row anywhere: a sleeve the outline did not
    separate from the torso (hanging close beside it, gallery T6's black top) or a bump of a wavy hem (T4's polo)
    reaches lower, and the hips put on that row lay on the cuff or the bump, 0.03-0.15 shoulder widths apart, and
    sheared the torso into a strip."""
    columns = np.arange(torso.shape[1])
    band = torso[:, np.abs(columns - centre) <= HEM_BAND * width]
    lowest = [torso.shape[0] - 1 - int(np.argmax(column[::-1])) for column in band.T if column.any()]
    return float(np.median(lowest)) if lowest else float(np.nonzero(torso.any(axis=1))[0].max())


def _run_at(mask: np.ndarray, y: float, x: float) -> tuple[int, int] | None:
    """(start, stop) of the run of row `y` holding column `x`, else the run nearest to it."""
    row = mask[int(np.clip(round(y), 0, mask.shape[0] - 1))].astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row, [0]])))
    runs = list(zip(edges[::2], edges[1::2]))
    if not runs:
        return None
    return min(runs, key=lambda r: 0 if r[0] <= x < r[1] else min(abs(r[0] - x), abs(r[1] - 1 - x)))


def _hips(mask: np.ndarray, y: float, centre: float, inset: float, conf: float) -> dict[str, np.ndarray]:
    run = _run_at(mask, y, centre) or (centre - 1, centre + 1)
    pull = inset * (run[1] - run[0])
    return {"r_hip": np.array([run[0] + pull, y, conf]), "l_hip": np.array([run[1] - 1 - pull, y, conf])}


def _side_armpit(mask, concavities, centre: float, side: int, shoulder: np.ndarray, hem: float, top: float):
    """This side's armpit (`_armpit`), or None."""
    armpit = _armpit(concavities, centre, side, shoulder, hem, 0.03 * (hem - top))
    if armpit is None:
        # One hull edge can span both sleeves hanging below the hem, and its one concavity is the deeper armpit of
        # the two (T6's black top lost its left sleeve to the torso): this side's half alone finds its own.
        half = mask.copy()
        half[:, (np.arange(mask.shape[1]) - centre) * side <= 0] = False
        armpit = _armpit(_concavities(half), centre, side, shoulder, hem, 0.03 * (hem - top))
    return armpit


def _sleeves(mask, shoulders: dict, concavities, centre: float, hem: float, top: float) -> dict:
    """Per side (-1, 1): (armpit or None, the sleeve's pixels or None) for these shoulder points."""
    width = float(np.linalg.norm(shoulders[1] - shoulders[-1]))
    found = {}
    for side in (-1, 1):
        armpit = _side_armpit(mask, concavities, centre, side, shoulders[side], hem, top)
        found[side] = armpit, None if armpit is None else _sleeve(mask, shoulders[side], armpit, side, width)
    return found


def _not_on_the_sleeves(mask, profile, shoulders: dict, sleeves: dict, centre: float) -> dict:
    """The shoulder points moved off the sleeves' tops (`shoulders` itself where none is on one; `sleeves`: what
    `_sleeves` found for them). On a tee whose sleeves stand out along the shoulders' slope (T7's polygon tee, the
    white render), the walk (`_shoulder`) finds no steep drop before the sleeve's end and puts the shoulder point
    there: its sleeve, cut along the line to the armpit, is a sliver that runs from the "shoulder" in towards the
    body's middle (`INWARD`), which no sleeve does (one laid down beside the body runs straight down), or nothing at
    all, and the garment was fitted to the person's shoulders by its sleeves' ends. Such a side's shoulder point
    goes to the top outline above its armpit (where a set-in sleeve's seam runs down to the armpit), and so does the
    other side's when it lies as far out (`SYMMETRY`: a garment laid flat is symmetric), its sleeve too short to
    tell. Not where the moved shoulders would not be level (`LEVEL`): such "armpits" are not a tee's (a gown's
    V-neck and straps)."""
    width = float(np.linalg.norm(shoulders[1] - shoulders[-1]))
    overshot = []
    for side, (armpit, pixels) in sleeves.items():
        if pixels is not None:
            elbow, _ = _arm(pixels, shoulders[side], armpit, width, mask.shape)
            inward, drop = (shoulders[side][0] - elbow[0]) * side, elbow[1] - shoulders[side][1]
            if inward > INWARD * max(drop, 0.0):
                overshot.append(side)
    if not overshot:
        return shoulders
    reach = max(abs(shoulders[side][0] - centre) for side in overshot)
    moved = dict(shoulders)
    for side, (armpit, _) in sleeves.items():
        if armpit is not None and (side in overshot or abs(shoulders[side][0] - centre) >= SYMMETRY * reach):
            x = int(round(armpit[0]))
            moved[side] = np.array([x, profile[x]], np.float64)
    dx, dy = np.abs(moved[1] - moved[-1])
    return moved if dy <= LEVEL * dx else shoulders


def _upper(mask: np.ndarray, category: str, image: np.ndarray) -> dict[str, np.ndarray]:
    """Neck, shoulders, sleeves and hips of an upper garment or a dress (knees added for a dress); `image` is the
    photo, where a sleeve laid against the body shows its seam."""
    ys, xs = np.nonzero(mask)
    top, hem = float(ys.min()), float(ys.max())
    centre = float(np.median(xs))
    profile = _profile(mask)
    step = max(2, int(0.015 * (xs.max() - xs.min())))
    shoulders = {
        side: _shoulder(profile, centre, side, step, 0.01 * mask.shape[0], mask.shape[0], hem - top) for side in (-1, 1)
    }
    concavities = _concavities(mask)
    sleeves = _sleeves(mask, shoulders, concavities, centre, hem, top)
    moved = _not_on_the_sleeves(mask, profile, shoulders, sleeves, centre)
    if moved is not shoulders:
        shoulders, sleeves = moved, _sleeves(mask, moved, concavities, centre, hem, top)
    width = float(np.linalg.norm(shoulders[1] - shoulders[-1]))
    points = {"neck": np.array([*(shoulders[-1] + shoulders[1]) / 2, ON_GARMENT])}
    torso = mask.copy()
    for side, prefix in ((-1, "r"), (1, "l")):
        shoulder = shoulders[side]
        points[f"{prefix}_shoulder"] = np.array([*shoulder, ON_GARMENT])
        armpit, pixels = sleeves[side]
        if pixels is not None:
            elbow, wrist = _arm(pixels, shoulder, armpit, width, mask.shape)
        elif armpit is None and category == "upper":  # sleeveless, or a sleeve laid down against the body
            # Not on a dress: its skirt's flare passes `PRESSED_BEYOND` and a pleat is a long straight edge.
            pressed = _pressed_sleeve(image, mask, shoulder, side, hem, width)
            if pressed is not None:
                pixels, elbow, wrist = pressed
        if pixels is None or len(pixels) >= torso.sum() - len(pixels):
            # Sleeveless; or a cut through the body: no top's sleeve is as large as what it leaves of the torso (an
            # outline no garment has; on such shapes the torso was left empty and the hem could not be found).
            points[f"{prefix}_elbow"] = points[f"{prefix}_wrist"] = np.zeros(3)
            continue
        torso[pixels[:, 1].astype(int), pixels[:, 0].astype(int)] = False
        points[f"{prefix}_elbow"], points[f"{prefix}_wrist"] = elbow, wrist
    shoulder_y = (shoulders[-1][1] + shoulders[1][1]) / 2
    torso_hem = _hem_under(torso, centre, width)
    if category == "upper":
        points.update(_hips(torso, torso_hem - 0.03 * (torso_hem - top), centre, HIP_INSET, ON_GARMENT))
        return points
    hip_y = min(shoulder_y + DRESS_HIPS * width, top + 0.6 * (hem - top))
    points.update(_hips(torso, hip_y, centre, HIP_INSET, PROPORTIONAL))
    knee_y = min(hip_y + width, hem)
    run = _run_at(torso, min(knee_y, hem - 0.05 * (hem - top)), centre) or (centre - 1, centre + 1)
    conf = PROPORTIONAL if knee_y < hem else OFF_GARMENT
    span = run[1] - 1 - run[0]
    points["r_knee"] = np.array([run[0] + 0.3 * span, knee_y, conf])
    points["l_knee"] = np.array([run[1] - 1 - 0.3 * span, knee_y, conf])
    return points


def _horizontal_gradient(image: np.ndarray) -> np.ndarray:
    """|d/dx| of the RGB `image`'s grey levels, blurred by 1.5 pixels (a knit's stitches are not a seam)."""
    gray = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.abs(cv2.Sobel(cv2.GaussianBlur(gray, (0, 0), 1.5), cv2.CV_32F, 1, 0, ksize=3))


def _gap_top(open_: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The top of the gap between the legs from `point`, the deepest point of their concavity (on near-vertical
    inner legs it can lie anywhere along them, and a shadow or the silhouette's closing seals the gap's narrow top):
    follow the `open_` pixels (background, or closer to the background's colour than to the garment's) upward."""
    x, y = float(point[0]), int(point[1])
    while y > 0:
        row = open_[y - 1].astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row, [0]])))
        near = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if a - 2 <= x <= b + 1 and 0 < a and b < len(row)]
        if not near:
            break
        x, y = (near[0][0] + near[0][1] - 1) / 2, y - 1
    return np.array([x, y], np.float64)


def _lower(mask: np.ndarray, open_: np.ndarray) -> dict[str, np.ndarray]:
    """Hips, knees and ankles of trousers or shorts (two legs below a crotch) or a skirt (one tube)."""
    ys, xs = np.nonzero(mask)
    top, hem = float(ys.min()), float(ys.max())
    centre, length = float(np.median(xs)), hem - top
    waist = _run_at(mask, top + 0.02 * length, centre) or (xs.min(), xs.max() + 1)
    crotches = [
        (p, d)
        for p, d in _concavities(mask)
        if abs(p[0] - centre) < 0.15 * (waist[1] - waist[0]) and p[1] > top + 0.15 * length and d > 0.1 * length
    ]
    if not crotches:  # a skirt: knees on the hem, no ankles
        hip_y = min(top + 0.4 * (waist[1] - waist[0]), top + 0.5 * length)
        points = _hips(mask, hip_y, centre, HIP_INSET_LOWER, ON_GARMENT)
        run = _run_at(mask, hem - 0.02 * length, centre) or waist
        span = run[1] - 1 - run[0]
        points["r_knee"] = np.array([run[0] + 0.3 * span, hem - 0.02 * length, ON_GARMENT])
        points["l_knee"] = np.array([run[1] - 1 - 0.3 * span, hem - 0.02 * length, ON_GARMENT])
        points["r_ankle"] = points["l_ankle"] = np.zeros(3)
        return points
    crotch = _gap_top(open_, max(crotches, key=lambda c: c[1])[0])
    rise = crotch[1] - top
    hip_y = crotch[1] - HIP_BELOW_CROTCH * rise
    points = _hips(mask, hip_y, centre, HIP_INSET_LOWER, ON_GARMENT)
    for side, prefix in ((-1, "r"), (1, "l")):
        leg = mask.copy()
        leg[: int(crotch[1]) + 1] = False
        columns = np.arange(mask.shape[1])
        leg[:, (columns - crotch[0]) * side <= 0] = False
        leg_ys, leg_xs = np.nonzero(leg)
        if not len(leg_ys):
            points[f"{prefix}_knee"] = points[f"{prefix}_ankle"] = np.zeros(3)
            continue
        leg_hem = float(leg_ys.max())
        band = leg_ys >= leg_hem - 0.02 * length
        end = np.array([leg_xs[band].mean(), leg_hem - 0.01 * length])
        hip = points[f"{prefix}_hip"][:2]
        if leg_hem - crotch[1] >= LONG_LEG * rise:
            knee_y = (hip_y + end[1]) / 2
            run = _run_at(leg, knee_y, float(np.median(leg_xs))) or (end[0], end[0] + 1)
            points[f"{prefix}_knee"] = np.array([(run[0] + run[1] - 1) / 2, knee_y, ON_GARMENT])
            points[f"{prefix}_ankle"] = np.array([*end, ON_GARMENT])
        else:  # shorts: the leg's end stands for the knee; the ankle continues the thigh's line beyond the cloth
            ankle = np.clip(end + 0.9 * (end - hip), 0, [mask.shape[1] - 1, mask.shape[0] - 1])
            points[f"{prefix}_knee"] = np.array([*end, ON_GARMENT])
            points[f"{prefix}_ankle"] = np.array([*ankle, OFF_GARMENT])
    return points


def silhouette_landmarks(image: np.ndarray, category: str) -> GarmentLandmarks:
    """Deterministic landmark estimate from the garment's outline on a plain background (module docstring)."""
    check_category(category)
    mask = shadowless_silhouette(image)
    names = SCHEMAS[category]
    height, width = image.shape[:2]
    if mask.sum() < 100:
        return GarmentLandmarks(category, names, np.zeros((len(names), 3), np.float32), True, height, width)
    if category == "lower":
        points = _lower(mask, ~mask | background_like(image, mask))
    else:
        points = _upper(mask, category, image)
    array = np.array([points[name] for name in names], dtype=np.float32)
    return GarmentLandmarks(category, names, array, estimated=True, height=height, width=width)
