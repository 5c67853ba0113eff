"""The garment's silhouette on a product photo's plain background, and the warnings for photos that are not one."""

from __future__ import annotations

import cv2
import numpy as np


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels (n, 3) float32 of the photo's 4-pixel frame: the background of a product shot."""
    return np.concatenate(
        [image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3), image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)]
    ).astype(np.float32)


def garment_silhouette(image: np.ndarray) -> np.ndarray:
    """The garment's mask (bool) on a plain background: pixels far from the border's colour, largest blob, filled."""
    border = _border(image)
    background = np.median(border, axis=0)
    spread = np.median(np.abs(border - background), axis=0).max()
    distance = np.abs(image.astype(np.float32) - background).max(axis=2)
    foreground = (distance > max(18.0, 4 * spread)).astype(np.uint8)
    size = max(3, int(round(min(image.shape[:2]) * 0.01)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, kernel)
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    if count <= 1:
        return np.zeros(image.shape[:2], bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 1, cv2.FILLED)
    return filled.astype(bool)


def background_like(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels (bool) closer in colour to the background than to the garment's median colour: the shaded narrow
    gaps (between trouser legs) that the silhouette's threshold and closing count as garment."""
    pixels = image.astype(np.float32)
    background = np.median(_border(image), axis=0)
    garment = np.median(pixels[mask], axis=0)
    return np.abs(pixels - background).sum(axis=2) < np.abs(pixels - garment).sum(axis=2)


def product_shot_warnings(image: np.ndarray) -> list[str]:
    """Warnings when the photo does not look like a product shot (one garment on a plain background)."""
    border = _border(image)
    if np.median(np.abs(border - np.median(border, axis=0)), axis=0).max() > 12:
        return [
            "warning: the garment photo's background is not plain; landmarks and results may suffer "
            "(use a product photo of the garment alone on a plain background)"
        ]
    share = garment_silhouette(image).mean()
    if not 0.05 <= share <= 0.95:
        return [f"warning: the garment covers {share:.0%} of the photo; expected a product photo of one garment"]
    return []
