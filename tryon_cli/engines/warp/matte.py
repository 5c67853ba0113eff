"""The garment separated from its product photo's plain background: a soft alpha matte.

The hard silhouette (`garment_landmarks.garment_silhouette`: pixels far from the border's colour, largest blob,
holes filled) says which pixels belong to the garment; the matte softens its edge by the colour distance to the
background, so a white garment's edge on white fades instead of showing a hard cut-out, and pulls the edge in
by a pixel so the photo's background halo does not come along.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.garment_landmarks import garment_silhouette

# Colour distance (max over RGB, 0-255) from the background at which a pixel is fully garment (chosen on the
# example's garments in an earlier round).
OPAQUE_DISTANCE = 40.0


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
    silhouette = garment_silhouette(image)
    if not silhouette.any():
        return np.zeros(image.shape[:2], np.float32)
    border = np.concatenate(
        [image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3), image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)]
    ).astype(np.float32)
    distance = np.abs(image.astype(np.float32) - np.median(border, axis=0)).max(axis=2)
    inner = cv2.erode(silhouette.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # Inside the eroded silhouette the garment is opaque (a white print on a white shirt is still garment); on the
    # rim the colour distance decides how much of the pixel is garment.
    rim = np.clip(distance / OPAQUE_DISTANCE, 0.0, 1.0) * silhouette
    alpha = np.where(inner, 1.0, rim).astype(np.float32)
    return cv2.GaussianBlur(alpha, (3, 3), 0)
