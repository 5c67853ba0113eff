"""The garment separated from its product photo's plain background: a soft alpha matte.

The hard silhouette (`garment_landmarks.separate`: pixels far from the border's colour, largest piece, holes
filled; a white garment on a light background found at a faint threshold) says which pixels belong to the
garment; the matte softens its edge by the colour distance to the background, so a white garment's edge on white
fades instead of showing a hard cut-out, and pulls the edge in by a pixel so the photo's background halo does not
come along. Where the colour threshold is unsure (a white tee on light grey, its colour crossing the backdrop's),
the silhouette is instead what a fitted backdrop model cannot explain (`backdrop_silhouette`), with a smooth
outline. A coloured garment's drop shadow, and the light rim of a dark one, are left out (`shadow`): the silhouette
takes in whatever is far enough from the background, and a shadow a few centimetres wide is.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.garment_landmarks.silhouette import (
    STRONG_DISTANCE,
    WORK_SIDE,
    _edges_touched,
    separate,
)

# Colour distance (max over RGB, 0-255) from the background at which a rim pixel is fully garment (chosen on the
# example's garments in an earlier round): this, or `OPAQUE_OVER_THRESHOLD` times the silhouette's own threshold
# when that is lower (a white tee on light grey is only 3-5 levels from it: at 40 its whole rim would be see-through).
OPAQUE_DISTANCE = 40.0
OPAQUE_OVER_THRESHOLD = 3.0
# A drop shadow (`shadow`) is the background darkened: a pixel of the silhouette whose chromaticity (r, g, b over
# their sum) is within SHADOW_CHROMA of the background's, darker than it but not below SHADOW_FLOOR of its
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
# The backdrop test (`backdrop_silhouette`). The backdrop is modelled as a quadratic surface per channel fitted to
# the photo's border (BORDER pixels wide: a studio backdrop's gradient or vignette); its noise is the border's
# residual (robust sigma, at least NOISE_FLOOR levels: a composited backdrop is exactly flat and JPEG still rounds by
# half a level). A pixel is backdrop while its residual's local energy (squared, averaged over the channels and a
# Gaussian window of ENERGY_SIGMA px at the work size) stays within BACKDROP_SIGMAS standard deviations of what noise
# alone gives (mean sigma^2, deviation sigma^2 sqrt(2 / n) for the window's n = 4 pi ENERGY_SIGMA^2 pixels): cloth
# differs from a flat backdrop by its weave, print, folds and JPEG texture even where its mean colour equals the
# backdrop's (imagdressing_1's white tee crosses the grey's 246 along its sides), which a colour threshold alone
# cannot see. The mask is opened and closed over CLOSE_SHARE of the smaller side, its holes filled, its largest
# piece kept and its outline smoothed. It replaces the colour silhouette only where that needed the faint colour
# threshold, or found less than COLOUR_SHARE of it (only a white tee's print, its backdrop's vignette deeper than the
# faint threshold): elsewhere the colour edge is sound, and the energy test takes in a coloured garment's soft drop
# shadow whole (it grew T5's hoodie by a fifth, the saleor polo's by an eighth).
BORDER = 4
NOISE_FLOOR = 0.5
ENERGY_SIGMA = 2.0
BACKDROP_SIGMAS = 3.0
CLOSE_SHARE = 0.01
COLOUR_SHARE = 0.5


def garment_matte(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(colour float32 (H, W, 3), alpha float32 (H, W) in [0, 1]) of the garment on `image` (RGB uint8 on a plain
    background). On the rim, where a pixel mixes garment and background, the colour is the garment's own (the
    interior's, spread outwards), so the background does not come along as a light halo."""
    alpha = garment_alpha(image)
    solid = (alpha >= 0.999).astype(np.float32)
    colour = image.astype(np.float32)
    sigma = max(1.0, 0.004 * image.shape[0])
    spread = cv2.GaussianBlur(colour * solid[..., None], (0, 0), sigma)
    weight = cv2.GaussianBlur(solid, (0, 0), sigma)[..., None]
    rim = (alpha < 0.999)[..., None] & (weight > 1e-3)
    colour = np.where(rim, spread / np.maximum(weight, 1e-3), colour)
    return colour.astype(np.float32), alpha


def garment_alpha(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) alpha in [0, 1] of the garment on `image` (RGB uint8 on a plain background)."""
    separation = separate(image)
    silhouette = separation.mask
    if not silhouette.any():
        return np.zeros(image.shape[:2], np.float32)
    silhouette = backdrop_silhouette(image, silhouette, faint=separation.threshold < STRONG_DISTANCE)
    opaque = min(OPAQUE_DISTANCE, OPAQUE_OVER_THRESHOLD * separation.threshold)
    inner = cv2.erode(silhouette.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # Inside the eroded silhouette the garment is opaque (a white print on a white shirt is still garment); on the
    # rim the colour distance decides how much of the pixel is garment, but never less than the silhouette pulled in
    # by a pixel and feathered: where a white garment's colour equals the backdrop's the colour alone would bite it.
    rim = np.clip(separation.distance / opaque, 0.0, 1.0) * silhouette
    feather = cv2.GaussianBlur(cv2.erode(silhouette.astype(np.float32), np.ones((3, 3), np.uint8)), (0, 0), 1.0)
    alpha = np.where(inner, 1.0, np.maximum(rim, feather)).astype(np.float32)
    alpha[shadow(image, silhouette, separation.background)] = 0.0
    return cv2.GaussianBlur(alpha, (3, 3), 0)


def backdrop_silhouette(image: np.ndarray, silhouette: np.ndarray, faint: bool) -> np.ndarray:
    """bool (H, W): `silhouette` (the colour-threshold one, `faint` where it needed the faint threshold) joined with
    every pixel that is not the fitted backdrop (see `BACKDROP_SIGMAS`), closed, holes filled, largest piece, where
    `COLOUR_SHARE` says to use it. Where that grows to more of the photo's edges than `silhouette` reached (a
    textured backdrop: grass, a room) the backdrop model does not hold and `silhouette` is kept."""
    scale = min(1.0, WORK_SIDE / max(image.shape[:2]))
    small = image if scale == 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    shape = small.shape[:2]
    found = _not_backdrop(small) | cv2.resize(
        silhouette.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST
    ).astype(bool)
    size = max(3, int(round(CLOSE_SHARE * min(shape))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    # opened first: the noise's own rare outliers are specks that a closing would join to the outline as bumps
    found = cv2.morphologyEx(cv2.morphologyEx(found.astype(np.uint8), cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    outside = cv2.copyMakeBorder(found, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    cv2.floodFill(outside, None, (0, 0), 2)  # the backdrop the photo's edge reaches; the rest is garment or a hole
    count, labels, stats, _ = cv2.connectedComponentsWithStats((outside[1:-1, 1:-1] != 2).astype(np.uint8), 8)
    if count < 2:
        return silhouette
    found = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.float32)
    # the outline smoothed (the mask blurred over the closing's radius and cut at one half): the window's pixels at
    # the edge see half backdrop, so the test's outline wavers by a pixel or two where the cloth's texture is faint
    found = cv2.GaussianBlur(found, (0, 0), size / 2) > 0.5
    found = cv2.resize(found.astype(np.uint8), silhouette.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    if _edges_touched(found) > _edges_touched(silhouette):
        return silhouette
    return found if faint or silhouette.sum() < COLOUR_SHARE * found.sum() else silhouette


def _not_backdrop(image: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels whose residual from the backdrop's fitted quadratic surface has a local energy above
    `BACKDROP_SIGMAS` of the border's noise."""
    pixels = image.astype(np.float32)
    height, width = image.shape[:2]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / height - 0.5, x / width - 0.5
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)
    edge = np.zeros((height, width), bool)
    edge[:BORDER], edge[-BORDER:], edge[:, :BORDER], edge[:, -BORDER:] = True, True, True, True
    coefficients, *_ = np.linalg.lstsq(basis[edge], pixels[edge], rcond=None)
    residual = pixels - basis @ coefficients.astype(np.float32)
    noise = max(NOISE_FLOOR, 1.4826 * float(np.median(np.abs(residual[edge]))))  # MAD -> sigma
    energy = cv2.GaussianBlur((residual**2).mean(axis=2), (0, 0), ENERGY_SIGMA)
    window = 4 * np.pi * ENERGY_SIGMA**2
    return energy > noise**2 * (1 + BACKDROP_SIGMAS * np.sqrt(2 / window))


def shadow(image: np.ndarray, silhouette: np.ndarray, background: np.ndarray) -> np.ndarray:
    """bool (H, W): a coloured garment's drop shadow inside `silhouette` (see `SHADOW_*`); none on a garment whose
    main colour is neutral."""
    pixels = image.astype(np.float32)
    background = np.asarray(background, np.float32)
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
