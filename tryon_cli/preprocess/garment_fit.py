"""A garment photo fitted to the model's frame, the same way for training and try-on.

The photo is padded with white to the model's aspect (3:4 portrait by default), never cropped, so no sleeve or
hem is cut, and then resized to the model's size. Landmarks found on the photo move with its pixels.
Light on purpose (numpy and OpenCV only): the training data code imports it without the inference pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GarmentFit:
    """The white-padded box of the model's aspect around a photo, in source pixels, and the model's size."""

    top: int  # white rows added above / columns added on the left
    left: int
    height: int  # the padded photo's size
    width: int
    out_height: int
    out_width: int

    def image(self, photo: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) photo -> uint8 (out_height, out_width, 3): padded with white, area-resized."""
        h, w = photo.shape[:2]
        padded = cv2.copyMakeBorder(
            photo,
            self.top,
            self.height - h - self.top,
            self.left,
            self.width - w - self.left,
            cv2.BORDER_CONSTANT,
            value=(255, 255, 255),
        )
        return cv2.resize(padded, (self.out_width, self.out_height), interpolation=cv2.INTER_AREA)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Landmarks (..., 3) in photo pixels -> fitted-image pixels; missing ones (conf 0) stay all 0."""
        out = np.array(points, np.float32, copy=True)
        out[..., 0] = (out[..., 0] + self.left) * self.out_width / self.width
        out[..., 1] = (out[..., 1] + self.top) * self.out_height / self.height
        out[np.asarray(points)[..., 2] <= 0] = 0
        return out


def fit_garment(src_height: int, src_width: int, out_height: int, out_width: int) -> GarmentFit:
    """The smallest box of the output's aspect around the whole photo, the photo centred in it."""
    width = max(src_width, round(src_height * out_width / out_height))
    height = max(src_height, round(width * out_height / out_width))
    return GarmentFit((height - src_height) // 2, (width - src_width) // 2, height, width, out_height, out_width)
