"""The garment separated from its product photo's plain background: a soft alpha matte.

The hard silhouette (`garment_landmarks.separate`: pixels far from the border's colour, largest piece, holes
filled; a white garment on a light background found at a faint threshold) says which pixels belong to the
garment; the matte softens its edge by the colour distance to the background, so a white garment's edge on white
fades instead of showing a hard cut-out, and pulls the edge in by a pixel so the photo's background halo does not
come along. A coloured garment's drop shadow, and the light rim of a dark one, are left out (`shadow`): the
silhouette takes in whatever is far enough from the background, and a shadow a few centimetres wide is.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.garment_landmarks.silhouette import separate

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
    opaque = min(OPAQUE_DISTANCE, OPAQUE_OVER_THRESHOLD * separation.threshold)
    inner = cv2.erode(silhouette.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # Inside the eroded silhouette the garment is opaque (a white print on a white shirt is still garment); on the
    # rim the colour distance decides how much of the pixel is garment.
    rim = np.clip(separation.distance / opaque, 0.0, 1.0) * silhouette
    alpha = np.where(inner, 1.0, rim).astype(np.float32)
    alpha[shadow(image, silhouette, separation.background)] = 0.0
    return cv2.GaussianBlur(alpha, (3, 3), 0)


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
