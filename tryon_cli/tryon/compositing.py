"""From full frames to the model's crop and back: crop warps and feathered paste-back.

A crop box (x0, y0, x1, y1) in frame pixels, at the model's aspect, becomes one affine map frame -> crop; the
same map inverted puts the generated crop back. Boxes may reach past the frame's border (a person at the edge
of a landscape video): the crop is then padded with grey there, and nothing is pasted outside the frame.

Paste-back changes pixels only inside a feathered mask: the repaint mask is dilated by `feather` pixels and
blurred with a box of the same radius, so the alpha falls from 1 to 0 across `feather` pixels around the mask
and is exactly 0 farther than `2 * feather` pixels from it; every other pixel is the input frame's, bit for bit.
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


def uncrop(image: np.ndarray, box: np.ndarray, frame_height: int, frame_width: int) -> np.ndarray:
    """A crop (h, w, C) put back where `box` lies in a `frame_height` x `frame_width` frame (zero elsewhere)."""
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image,
        crop_matrix(box, height, width),
        (frame_width, frame_height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def feather_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """A float32 alpha in [0, 1] from a bool repaint mask: 1 on the mask, fading to 0 over `feather` pixels."""
    if feather <= 0:
        return mask.astype(np.float32)
    size = 2 * feather + 1
    # A square dilation of the blur's own radius: every mask pixel's blur window lies inside it, so alpha is
    # exactly 1 on the mask.
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(np.float32)
    return cv2.blur(grown, (size, size), borderType=cv2.BORDER_REPLICATE)


def paste(frame: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`frame` with `generated` blended in by `alpha` (same H x W); pixels where alpha is 0 are left untouched."""
    out = frame.copy()
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if not len(rows):
        return out
    # Only alpha's bounding box is blended (the mask is a fraction of the frame), with slices, not by indexing
    # the whole frame with a boolean mask.
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    a = alpha[box][..., None]
    blended = np.clip(frame[box] * (1 - a) + generated[box] * a + 0.5, 0, 255).astype(np.uint8)
    out[box] = np.where(a > 0, blended, frame[box])
    return out
