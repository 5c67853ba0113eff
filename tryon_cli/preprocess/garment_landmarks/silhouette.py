"""The garment's silhouette on a product photo's plain background, and the warnings for photos that are not one.

Pixels count as garment where their colour, slightly blurred against JPEG noise, is far from the background's
(the median of the photo's border). Far is `STRONG_DISTANCE` levels; a white or light garment on a white or light
background (a white tee on light grey: 2-5 levels darker than it) is found at `FAINT_DISTANCE` instead, when the
strong threshold finds less than `FAINT_SWITCH` of what the faint one does (only its print, say). The faint
threshold is not the default because it also takes in a garment's soft drop shadow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

STRONG_DISTANCE = 18.0  # colour distance (max over RGB, 0-255) above the border's noise: clearly not background
FAINT_DISTANCE = 3.0  # a white garment on a white or light background, measured on the blurred photo
FAINT_SWITCH = 0.8  # the strong silhouette finds less than this share of the faint one: the garment is faint
NOISE_SIGMA = 1.0  # the blur (pixels of the photo) that takes JPEG noise on a plain background below 1 level
NOISY_BORDER = 4.0  # the threshold is at least this many times the border's median deviation (a textured backdrop)
SECOND_BACKGROUND = 0.2  # share of the border in a second plain colour that makes it a second background colour
WORK_SIDE = 1024  # pixels: a larger photo is separated at this size (a 2160x2160 render took 2-5 s at full size)
HULL_INSET = (
    0.02  # the faint fill keeps this far (of the smaller side) inside the hull: a dark dress's light rim is 1-2%
)
MIN_PIECE = 0.002  # pieces smaller than this share of the photo (specks, a tag, a shadow's tail) are not counted

# A drop shadow (`drop_shadow`) is the background darkened: a pixel of the silhouette whose chromaticity (r, g, b
# over their sum) is within SHADOW_CHROMA of the background's, darker than it but not below SHADOW_FLOOR of its
# brightness (black cloth is not a shadow). A piece of such pixels that touches the background (through its faint
# tail too, which the silhouette may take in) is a shadow when its median is more than SHADOW_DEPTH levels darker
# than the background, and only on a garment whose main colour is itself coloured (chromaticity more than
# GARMENT_CHROMA from the background's): on white, grey or black cloth a shaded fold is the same neutral grey.
# Chosen on the tuned cases' photos at the engine's size: T5's camel hoodie (0.087 from the background) loses its
# shadow beside the body and under the hem (the piece's median 50 levels darker); T2's white band between red and
# navy (6) and T3's pink skirt's greyish folds at its edge (18.7; at SHADOW_CHROMA 0.02 they joined the shadow and
# were bitten out) stay, as does every white, grey or black garment.
SHADOW_CHROMA = 0.01
SHADOW_FLOOR = 0.4
SHADOW_DEPTH = 25.0
GARMENT_CHROMA = 0.05


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels (n, 3) float32 of the photo's 4-pixel frame: the background of a product shot."""
    return np.concatenate(
        [image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3), image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)]
    ).astype(np.float32)


@dataclass(frozen=True)
class Separation:
    """A garment photo split into garment and background."""

    mask: np.ndarray  # (H, W) bool: the largest piece, holes filled
    pieces: list[np.ndarray]  # (H, W) bool masks of every piece, largest first (the mask's own piece first)
    distance: np.ndarray  # (H, W) float32: colour distance from the background (blurred photo)
    threshold: float  # the distance above which a pixel counted as garment
    background: np.ndarray  # (3,) float32: the background colour


def separate(image: np.ndarray) -> Separation:
    """The garment (and any other pieces) on `image`, RGB uint8 on a plain background; a photo larger than
    `WORK_SIDE` is separated at that size and the result brought back to the photo's. The last few photos' results
    are kept (by content): the request's check, the landmarks and the warning all separate the same photo."""
    key = (image.shape, hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest())
    if key not in _SEPARATED:
        _SEPARATED[key] = _separate_at_work_size(image)
        while len(_SEPARATED) > KEPT:
            _SEPARATED.pop(next(iter(_SEPARATED)))
    return _SEPARATED[key]


_SEPARATED: dict = {}
KEPT = 4  # photos whose separation is kept: a request's photo and its fitted copy, with room to spare


def _separate_at_work_size(image: np.ndarray) -> Separation:
    scale = WORK_SIDE / max(image.shape[:2])
    if scale >= 1:
        return _separate(image)
    small = _separate(cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), cv2.INTER_AREA))
    size = (image.shape[1], image.shape[0])
    pieces = [cv2.resize(p.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool) for p in small.pieces]
    mask = pieces[0] if pieces else np.zeros(image.shape[:2], bool)
    distance = cv2.resize(small.distance, size, interpolation=cv2.INTER_LINEAR)
    return Separation(mask, pieces, distance, small.threshold, small.background)


def _separate(image: np.ndarray) -> Separation:
    border = _border(image)
    backgrounds = _background_colours(border)
    spread = float(np.median(np.min([np.abs(border - b).max(axis=1) for b in backgrounds], axis=0)))
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), NOISE_SIGMA)
    distance = np.min([np.abs(blurred - b).max(axis=2) for b in backgrounds], axis=0)
    strong_threshold = max(STRONG_DISTANCE, NOISY_BORDER * spread)
    faint_threshold = max(FAINT_DISTANCE, NOISY_BORDER * spread)
    strong = _pieces(distance > strong_threshold, image.shape)
    pieces, threshold = strong, strong_threshold
    faint = _pieces(distance > faint_threshold, image.shape)
    # The faint threshold is trusted where it did not grow into the backdrop (a vignette, a gradient) up to the
    # photo's edge. Where the strong one found a part of the garment only (a print), the faint one is the garment;
    # else it only fills the strong silhouette's light patches (a white hood's highlights) inside its convex hull,
    # away from the hull's edge, so that a soft drop shadow and the light rim of a dark garment's edge stay out.
    if faint and _edges_touched(faint[0]) <= (_edges_touched(strong[0]) if strong else 0):
        if not strong or (strong[0] & faint[0]).sum() < FAINT_SWITCH * faint[0].sum():
            pieces, threshold = faint, faint_threshold
        else:
            pieces = [strong[0] | (faint[0] & _inner_hull(strong[0]))] + strong[1:]
    mask = pieces[0] if pieces else np.zeros(image.shape[:2], bool)
    return Separation(mask, pieces, distance, threshold, backgrounds[0])


def _background_colours(border: np.ndarray) -> list[np.ndarray]:
    """The border's colour, and a second one where a fifth of the border or more is another plain colour (a photo
    padded with white to an aspect, a backdrop shot on a sheet)."""
    first = np.median(border, axis=0)
    other = border[np.abs(border - first).max(axis=1) > FAINT_DISTANCE]
    if len(other) < SECOND_BACKGROUND * len(border):
        return [first]
    second = np.median(other, axis=0)
    if np.median(np.abs(other - second).max(axis=1)) > FAINT_DISTANCE:  # not one colour: a busy border
        return [first]
    return [first, second]


def _inner_hull(mask: np.ndarray) -> np.ndarray:
    """The convex hull (bool) of a mask's pixels, less `HULL_INSET` of the photo's smaller side along its edge."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    hull = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    inset = max(3, int(round(HULL_INSET * min(mask.shape))) | 1)
    return cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (inset, inset))).astype(bool)


def _edges_touched(mask: np.ndarray) -> int:
    """How many of the photo's four edges the mask reaches."""
    return int(mask[0].any()) + int(mask[-1].any()) + int(mask[:, 0].any()) + int(mask[:, -1].any())


def _pieces(foreground: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The separate pieces of a thresholded photo larger than `MIN_PIECE` of it, largest first, each closed,
    opened and with its holes filled."""
    size = max(3, int(round(min(shape[:2]) * 0.01)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    foreground = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, kernel)
    outside = cv2.copyMakeBorder(foreground, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(outside, None, (0, 0), 2)  # what the photo's edge reaches without crossing a piece
    filled = (outside[1:-1, 1:-1] != 2).astype(np.uint8)  # pieces with their holes
    count, labels, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
    order = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])
    keep = [
        label for i, label in enumerate(order) if i == 0 or stats[label, cv2.CC_STAT_AREA] >= MIN_PIECE * filled.size
    ]
    return [labels == label for label in keep]


def garment_silhouette(image: np.ndarray) -> np.ndarray:
    """The garment's mask (bool) on a plain background: the largest piece far from the border's colour, filled."""
    return separate(image).mask


def shadowless_silhouette(image: np.ndarray) -> np.ndarray:
    """The garment's mask (bool) less its drop shadow (`drop_shadow`), the largest piece left: the outline its
    landmarks are read on (T5's hoodie: the shadow under its hem hid the gaps between its cuffs and its hem)."""
    separation = separate(image)
    mask = separation.mask & ~drop_shadow(image, separation)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if count > 1 else mask


def drop_shadow(image: np.ndarray, separation: Separation) -> np.ndarray:
    """bool (H, W): a coloured garment's drop shadow inside the silhouette of `separation`, which `separate(image)`
    returned (see `SHADOW_*`); none on a garment whose main colour is neutral. Found once per separation: the photo
    check, the landmarks and the matte all ask for it (0.5-0.65 s each on a 2048 px photo)."""
    kept = _SHADOWS.get(id(separation))
    if kept is None or kept[0] is not separation:
        kept = _SHADOWS[id(separation)] = (separation, _drop_shadow(image, separation))
        while len(_SHADOWS) > KEPT:
            _SHADOWS.pop(next(iter(_SHADOWS)))
    return kept[1]


_SHADOWS: dict = {}  # id(separation) -> (that separation, its shadow); the separation is held, so its id stays its own


def _drop_shadow(image: np.ndarray, separation: Separation) -> np.ndarray:
    silhouette = separation.mask
    pixels = image.astype(np.float32)
    background = np.asarray(separation.background, np.float32)
    none = np.zeros(silhouette.shape, bool)
    if not silhouette.any() or _chroma_distance(np.median(pixels[silhouette], axis=0), background) <= GARMENT_CHROMA:
        return none
    brightness, level = pixels.mean(axis=2), float(background.mean())
    shaded = (brightness < level) & (brightness > SHADOW_FLOOR * level)
    shaded &= silhouette & (_chroma_distance(pixels, background) < SHADOW_CHROMA)
    _, labels = cv2.connectedComponents((shaded | ~silhouette).astype(np.uint8), connectivity=8)
    found = none.copy()
    for label in np.unique(labels[~silhouette]):
        piece = (labels == label) & shaded
        if piece.any() and level - float(np.median(brightness[piece])) > SHADOW_DEPTH:
            found |= piece
    return found


def _chroma_distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The largest difference of chromaticity (each channel over the sum of the three) from `colour`'s."""

    def chromaticity(values):
        return values / np.maximum(values.sum(axis=-1, keepdims=True), 1.0)

    return np.abs(chromaticity(pixels) - chromaticity(colour)).max(axis=-1)


def background_like(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels (bool) closer in colour to the background than to the garment's median colour: the shaded narrow
    gaps (between trouser legs) that the silhouette's threshold and closing count as garment."""
    pixels = image.astype(np.float32)
    background = np.median(_border(image), axis=0)
    garment = np.median(pixels[mask], axis=0)
    return np.abs(pixels - background).sum(axis=2) < np.abs(pixels - garment).sum(axis=2)


def border_is_plain(image: np.ndarray) -> bool:
    """The photo's border is one colour give or take `PLAIN_BORDER` levels (a product shot's backdrop)."""
    border = _border(image)
    return bool(np.median(np.abs(border - np.median(border, axis=0)), axis=0).max() <= PLAIN_BORDER)


PLAIN_BORDER = 12  # median deviation of the border from its median colour, levels: grass, a room, a street exceed it


def product_shot_warnings(image: np.ndarray) -> list[str]:
    """Warnings when the photo does not look like a product shot (one garment on a plain background)."""
    if not border_is_plain(image):
        return [
            "warning: the garment photo's background is not plain; landmarks and results may suffer "
            "(use a product photo of the garment alone on a plain background)"
        ]
    share = garment_silhouette(image).mean()
    if not 0.05 <= share <= 0.95:
        return [f"warning: the garment covers {share:.0%} of the photo; expected a product photo of one garment"]
    return []
