"""Is this garment photo one that a try-on can dress a person in? Checked once per request, before the person
video is decoded, for every engine: the photo must show one garment of the asked category, whole, alone on a
plain background (a product shot). Otherwise one line says what is wrong and what to give instead.

What is refused, and how it is seen (each on the garment's silhouette, `silhouette.separate`):
- a background that is not plain (grass, a room): the border's colours vary (`border_is_plain`);
- no garment: nothing, or a sliver, stands out from the background (`MIN_SHARE`);
- several garments (a flat-lay of an outfit): a second piece at least `SECOND_GARMENT` of the largest;
- with `--category upper`, trousers or shorts: the silhouette's lower part is two legs side by side
  (`two_legs`); a garment much taller than wide (`UPPER_ASPECT`): a dress, or a top and a bottom in one photo;
- a garment cut off by the photo's edge (a photo of it worn by a person, whose head, legs or body run out of
  the frame, or a cropped photo): the silhouette runs along an edge of the photo (`EDGE_RUN`);
- a top or a dress whose shoulders the outline does not show (a raised hood, a collar standing high): the
  shoulder points the silhouette estimate finds lie closer together than `MIN_SHOULDERS` of its hips' width.
  Every engine places the garment by them; the warp engine drew such a photo as a crumpled fragment.
Not seen: a garment worn by a person who stands wholly inside the photo; a skirt given as an upper garment.
"""

from __future__ import annotations

import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.preprocess.garment_landmarks.estimate import silhouette_landmarks
from tryon_cli.preprocess.garment_landmarks.silhouette import border_is_plain, separate

MIN_SHARE = 0.02  # a garment smaller than this share of the photo is not found (a speck, a print on white)
SECOND_GARMENT = 0.25  # a second piece this large against the largest is a second garment (a tag is < 0.05)
# Tops, shirts, sweaters and hoodies are at most about twice as tall as wide, sleeves included (the shared photos:
# 0.8-2.0, a long sleeveless blouse 2.0); a dress is 2.2-3.2 and a top photographed above a skirt 3.1.
UPPER_ASPECT = 2.5
# Trousers and shorts: the bottom rows of the silhouette (`LEG_BAND` of its height) are two runs side by side,
# each at least `LEG_WIDTH` of the garment's width, with a gap of at most `LEG_GAP` of it between them (the
# sleeves of a long-sleeved top that hang below its hem are narrower and further apart), in `LEG_ROWS` of them.
LEG_BAND = (0.03, 0.15)
LEG_WIDTH = 0.18
LEG_GAP = 0.45
LEG_ROWS = 0.6
# The silhouette running along an edge for this share of it: the garment goes on beyond the photo (on the shared
# photos worn by a model: 0.10-0.66; product shots: 0; a sleeve's tip touching the edge is less).
EDGE_RUN = 0.05
EDGE_MARGIN = 2  # pixels from the edge that count as on it (a JPEG's ringing)
# A top's or a dress's shoulder points at least this share of its hips' width apart (the hips are the hem pulled in
# by 12% each side): a body's shoulders are about as wide as its hips or wider, a garment's shoulder seams too.
# Set from that, a third of it, not tuned on a clip; on the shared photos shoulders/hips is 0.64 (a hoodie, hood down)
# to 2.5 on the tops and dresses that dress a clip, and 0.15 on the white hoodie render with its hood up, whose
# "shoulders" are the hood's peak.
MIN_SHOULDERS = 0.35
PHOTO_ADVICE = "give a product photo of the garment alone on a plain background"


def check_garment_photo(image: np.ndarray, category: str, name: str = "the garment photo") -> None:
    """Raise InputError (one line) when `image` (RGB uint8) is not a photo of one `category` garment, whole,
    alone on a plain background. `name` names the photo in the message."""
    if not border_is_plain(image):
        raise InputError(f"{name}: its background is not plain (a garment on grass, in a room); {PHOTO_ADVICE}")
    separation = separate(image)
    mask = separation.mask
    if mask.mean() < MIN_SHARE:
        raise InputError(f"{name}: no garment stands out from its background; {PHOTO_ADVICE}")
    others = [piece for piece in separation.pieces[1:] if piece.sum() >= SECOND_GARMENT * mask.sum()]
    if others:
        raise InputError(
            f"{name}: it holds {len(others) + 1} separate garments or items; give a photo of the one garment to try on"
        )
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    aspect = (rows[-1] - rows[0] + 1) / (columns[-1] - columns[0] + 1)
    if category == "upper" and two_legs(mask):
        raise InputError(
            f"{name}: it shows trousers or shorts (two legs), not an upper garment; try it on with --category lower"
        )
    if category == "upper" and aspect > UPPER_ASPECT:
        raise InputError(
            f"{name}: the garment is {aspect:.1f} times as tall as wide, longer than a top: for a dress use "
            "--category dress; a top and a bottom in one photo cannot be tried on together, give the top alone"
        )
    cut = _edges_run_along(mask)
    if cut:
        raise InputError(
            f"{name}: the garment runs off the photo's {_listed(cut)} (a photo of it worn by a person, or cropped); "
            f"{PHOTO_ADVICE}"
        )
    if category in ("upper", "dress") and not shoulders_shown(image, category):
        raise InputError(
            f"{name}: its outline shows no shoulders (a raised hood or a high collar hides them), so the garment "
            "cannot be placed on a body; give a photo of it laid flat with its shoulders showing (hood down)"
        )


def shoulders_shown(image: np.ndarray, category: str) -> bool:
    """Whether the silhouette estimate's shoulder points of this top or dress lie at least `MIN_SHOULDERS` of its
    hips' width apart (a raised hood's peak is taken for both shoulders)."""
    landmarks = silhouette_landmarks(image, category)
    point = dict(zip(landmarks.names, landmarks.points[:, :2]))
    shoulders = float(np.linalg.norm(point["l_shoulder"] - point["r_shoulder"]))
    hips = float(np.linalg.norm(point["l_hip"] - point["r_hip"]))
    return shoulders >= MIN_SHOULDERS * hips


def two_legs(mask: np.ndarray) -> bool:
    """The silhouette's bottom rows are two legs side by side (trousers, shorts), by `LEG_*`."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom = rows[0], rows[-1]
    width = columns[-1] - columns[0] + 1
    height = bottom - top + 1
    band = range(int(bottom - LEG_BAND[1] * height), int(bottom - LEG_BAND[0] * height) + 1)
    legs = 0
    for y in band:
        runs = _runs(mask[y])
        if len(runs) == 2:
            (a0, a1), (b0, b1) = runs
            if min(a1 - a0, b1 - b0) >= LEG_WIDTH * width and b0 - a1 <= LEG_GAP * width:
                legs += 1
    return legs >= LEG_ROWS * len(band)


def _listed(edges: list[str]) -> str:
    """'top edge', 'top and bottom edges', 'top, bottom and left edges'."""
    if len(edges) == 1:
        return f"{edges[0]} edge"
    return f"{', '.join(edges[:-1])} and {edges[-1]} edges"


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a row."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _edges_run_along(mask: np.ndarray) -> list[str]:
    """The photo's edges that the silhouette runs along for `EDGE_RUN` of their length or more."""
    m = EDGE_MARGIN
    strips = {"top": mask[:m].any(axis=0), "bottom": mask[-m:].any(axis=0)}
    strips.update({"left": mask[:, :m].any(axis=1), "right": mask[:, -m:].any(axis=1)})
    return [edge for edge, strip in strips.items() if strip.mean() >= EDGE_RUN]
