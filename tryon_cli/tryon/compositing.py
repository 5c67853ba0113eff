"""From the model's crop back to the full frame: the crop map inverted, and feathered paste-back.

The crop itself (`preprocess.crop`) is one affine map frame -> crop; the same map inverted puts the generated
crop back, and nothing is pasted outside the frame.

Paste-back changes pixels only inside a feathered mask: the repaint mask is dilated by `feather` pixels and
blurred with a box of the same radius, so the alpha falls from 1 to 0 across `feather` pixels around the mask
and is exactly 0 farther than `2 * feather` pixels from it; every other pixel is the input frame's, bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.crop import crop_matrix


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
