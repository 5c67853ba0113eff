"""Cutting a frame to the model's crop: a crop box becomes one affine map frame -> crop.

A crop box (x0, y0, x1, y1) in frame pixels, at the model's aspect, becomes one affine map frame -> crop (its
inverse puts a generated crop back: `tryon.compositing`). Boxes may reach past the frame's border (a person at
the edge of a landscape video): the crop is then padded with grey there.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.masks import AGNOSTIC_GREY as PAD_VALUE  # grey: what agnostic regions hold too


def crop_matrix(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """The 2x3 affine map from frame pixels to the pixels of a `height` x `width` crop of `box`."""
    x0, y0, x1, y1 = (float(v) for v in box)
    sx, sy = width / (x1 - x0), height / (y1 - y0)
    # Pixel centres: frame pixel x maps to crop pixel (x + 0.5 - x0) * sx - 0.5.
    return np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]], dtype=np.float64)


def crop(image: np.ndarray, box: np.ndarray, height: int, width: int, *, nearest: bool = False) -> np.ndarray:
    """`image` (H, W[, C]) cut to `box`, resized to `height` x `width`; outside the frame grey (0 for masks)."""
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if _shrinks(box, height) else cv2.INTER_LINEAR
    border = 0 if image.dtype == bool or image.ndim == 2 else (PAD_VALUE,) * image.shape[2]
    src = image.astype(np.uint8) if image.dtype == bool else image
    # warpAffine has no INTER_AREA; shrink by resizing the cut instead when the crop is smaller than the box.
    if flags == cv2.INTER_AREA:
        out = _crop_area(src, box, height, width, border)
    else:
        out = cv2.warpAffine(
            src,
            crop_matrix(box, height, width),
            (width, height),
            flags=flags,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border,
        )
    return out.astype(bool) if image.dtype == bool else out


def _shrinks(box: np.ndarray, height: int) -> bool:
    return (box[3] - box[1]) > 1.5 * height


def _crop_area(image: np.ndarray, box: np.ndarray, height: int, width: int, border) -> np.ndarray:
    # Integer box in the frame, padded where it reaches past the border, then area-resized (anti-aliased).
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    h, w = image.shape[:2]
    pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    cut = image[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    if any(pad):
        cut = cv2.copyMakeBorder(cut, *pad, cv2.BORDER_CONSTANT, value=border)
    return cv2.resize(cut, (width, height), interpolation=cv2.INTER_AREA)
