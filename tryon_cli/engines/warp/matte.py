"""The garment separated from its product photo's plain background: a soft alpha matte.

The hard silhouette (`garment_landmarks.separate`: pixels far from the border's colour, largest piece, holes
filled; a white garment on a light background found at a faint threshold) says which pixels belong to the
garment; the matte softens its edge by the colour distance to the background, so a white garment's edge on white
fades instead of showing a hard cut-out, and pulls the edge in by a pixel so the photo's background halo does not
come along. A coloured garment's drop shadow, and the light rim of a dark one, are left out
(`silhouette.drop_shadow`): the silhouette takes in whatever is far enough from the background, and a shadow a few
centimetres wide is.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.garment_landmarks.silhouette import drop_shadow, separate

# Colour distance (max over RGB, 0-255) from the background at which a rim pixel is fully garment (chosen on the
# example's garments in an earlier round): this, or `OPAQUE_OVER_THRESHOLD` times the silhouette's own threshold
# when that is lower (a white tee on light grey is only 3-5 levels from it: at 40 its whole rim would be see-through).
OPAQUE_DISTANCE = 40.0
OPAQUE_OVER_THRESHOLD = 3.0


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
    alpha[drop_shadow(image, separation)] = 0.0
    return cv2.GaussianBlur(alpha, (3, 3), 0)
