"""Geometry shared by pixels and keypoints, and the paper's augmentations (section 3.6).

- Every frame is centre-cropped to the training aspect and resized to it (512x384 by default), keypoints with it.
  Garment photos are padded with white instead, as at try-on (`tryon_cli.preprocess.garment_fit`).
- Horizontal flip (p = 0.5): person, mask, garment and both pose sets flip together, so an asymmetric print stays
  on the same side of the garment image and the person; left and right keypoints swap labels, as a pose estimator
  run on the mirrored frame would label them.
- Keypoint drop (p = 0.05): each human keypoint of each frame independently gets confidence 0 (not drawn), so
  the model learns to infer a missing joint from the neighbouring frames. Garment landmarks are not dropped: the
  paper motivates the drop with discontinuous human pose sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tryon_cli.preprocess.keypoints import BODY_NAMES


@dataclass(frozen=True)
class CropBox:
    """The centred region of a (height, width) source with the target aspect, and the scale onto the target."""

    top: int
    left: int
    height: int
    width: int
    out_height: int
    out_width: int

    @classmethod
    def fit(cls, src_height: int, src_width: int, out_height: int, out_width: int) -> "CropBox":
        aspect = out_width / out_height
        if src_width / src_height > aspect:  # too wide: crop the sides
            width, height = round(src_height * aspect), src_height
        else:  # too tall: crop top and bottom
            width, height = src_width, round(src_width / aspect)
        return cls((src_height - height) // 2, (src_width - width) // 2, height, width, out_height, out_width)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Keypoints (..., 3) from source pixels to output pixels; missing points (conf 0) stay at 0."""
        out = np.array(points, np.float32, copy=True)
        present = out[..., 2] > 0
        out[..., 0] = np.where(present, (out[..., 0] - self.left) * self.out_width / self.width, 0)
        out[..., 1] = np.where(present, (out[..., 1] - self.top) * self.out_height / self.height, 0)
        return out

    def _crop(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[..., self.top : self.top + self.height, self.left : self.left + self.width]

    def pixels(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> float (T, 3, out_h, out_w) in [-1, 1]."""
        tensor = self._crop(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float())
        tensor = F.interpolate(
            tensor, (self.out_height, self.out_width), mode="bilinear", antialias=True, align_corners=False
        )
        return (tensor / 127.5 - 1).clamp(-1, 1)

    def mask(self, masks: np.ndarray) -> torch.Tensor:
        """bool (T, H, W) -> float (T, 1, out_h, out_w) in {0, 1}; a pixel repaints when most of its area does."""
        tensor = self._crop(torch.from_numpy(np.ascontiguousarray(masks)).float()[:, None])
        tensor = F.interpolate(tensor, (self.out_height, self.out_width), mode="area")
        return (tensor >= 0.5).float()


def flip_keypoints(points: np.ndarray, width: int, permutation: list[int] | None) -> np.ndarray:
    """Mirror (..., N, 3) keypoints in an image `width` pixels wide and relabel them with `permutation`."""
    out = np.array(points, np.float32, copy=True)
    present = out[..., 2] > 0
    out[..., 0] = np.where(present, width - 1 - out[..., 0], 0)
    return out[..., list(permutation), :] if permutation is not None else out


def flip_name_permutation(names: list[str]) -> list[int]:
    """Permutation that swaps landmarks named `l_*` and `r_*` (garment landmarks are named after human keypoints)."""

    def mirrored(name: str) -> str:
        if name.startswith("l_"):
            return "r_" + name[2:]
        if name.startswith("r_"):
            return "l_" + name[2:]
        return name

    return [names.index(mirrored(n)) if mirrored(n) in names else i for i, n in enumerate(names)]


def drop_keypoints(points: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Each keypoint of (..., 3) set missing (x = y = conf = 0) with probability p."""
    out = np.array(points, np.float32, copy=True)
    if p > 0:
        out[rng.random(out.shape[:-1]) < p] = 0
    return out


OPENPOSE18_FLIP = flip_name_permutation(list(BODY_NAMES))
"""Relabels OpenPose-18 left and right after a horizontal flip."""
