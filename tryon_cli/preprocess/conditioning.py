"""The conditioning recipe: how frames, masks, poses and the garment photo become the model's inputs.

One module for training (`data/dataset.py`) and try-on (`tryon/clip.py`, `engines/dpidm.py`), so a model is run
on exactly the inputs it was trained on. It sits below both (with `GarmentInput`, what an engine is handed):

- person crops: a frame, its repaint mask and its keypoints are cut to a box at the model's aspect with one
  affine map (`crop.crop_matrix`; pixels area-resized when shrinking a lot, masks nearest-neighbour);
- agnostic pixels: the crop with the repaint region filled with grey 128 (`preprocess.masks.apply_agnostic`);
- the human pose map: the crop-space keypoints drawn by `render_human_pose`;
- the garment: photo padded with white to the aspect and resized (`garment_fit`), its landmarks moved with it
  and drawn as the garment pose map;
- the mask at latent size: area-averaged over each latent cell, repaint where more than half the cell does;
- pixel conversions: uint8 <-> [-1, 1] model pixels and uint8 -> [0, 1] pose maps.

The crop POLICY differs on purpose (docs/design.md): training cuts the centre box of the aspect
(`centre_box`; the datasets are framed on one person already), try-on cuts a box that follows the person
(`framing.crop_boxes`; a phone video is not). Given the same box both give identical inputs
(tests/test_tryon_conditioning.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from tryon_cli.preprocess import crop
from tryon_cli.preprocess.garment_fit import fit_garment
from tryon_cli.preprocess.head import Box, frame_interior
from tryon_cli.preprocess.keypoints import FramePose, GarmentLandmarks
from tryon_cli.preprocess.masks import apply_agnostic as grey_out  # noqa: F401  (part of the recipe)
from tryon_cli.preprocess.pose_maps import render_garment_pose, render_human_pose

if TYPE_CHECKING:
    import torch

# torch is imported by the functions that make tensors, not with the module: the warp engine uses the crops and
# `GarmentInput` and needs no torch, whose import costs about 500 MB of resident memory and seconds of start-up.


@dataclass(frozen=True)
class GarmentInput:
    """The garment photo, prepared once per video for the engine's size."""

    category: str  # upper, lower or dress
    photo: np.ndarray  # (h, w, 3) uint8, as read
    image: np.ndarray  # (H, W, 3) uint8: fitted to the engine's frame (white padding, `preprocess.garment_fit`)
    landmarks: GarmentLandmarks  # in `image` pixels
    pose_map: np.ndarray  # (H, W, 3) uint8: the landmarks drawn as a pose map


def centre_box(src_height: int, src_width: int, height: int, width: int) -> np.ndarray:
    """Training's crop policy as a box (x0, y0, x1, y1): the centred region of the model's aspect, in whole pixels
    (the sides cut from a too wide source, top and bottom from a too tall one; the odd pixel from the far side)."""
    aspect = width / height
    if src_width / src_height > aspect:
        box_width, box_height = round(src_height * aspect), src_height
    else:
        box_width, box_height = src_width, round(src_width / aspect)
    left, top = (src_width - box_width) // 2, (src_height - box_height) // 2
    return np.array([left, top, left + box_width, top + box_height], np.float64)


def crop_person(frame: np.ndarray, mask: np.ndarray, box: np.ndarray, height: int, width: int):
    """(pixels uint8 (H, W, 3), mask bool (H, W)) of one frame cut to `box` at the model's size."""
    return (crop.crop(frame, box, height, width), crop.crop(mask, box, height, width, nearest=True))


def points_in_crop(points: np.ndarray | None, box: np.ndarray, height: int, width: int) -> np.ndarray | None:
    """Keypoints (..., 3) from frame pixels to crop pixels (pixel centres kept); missing ones stay all 0."""
    if points is None:
        return None
    matrix = crop.crop_matrix(box, height, width)
    out = np.array(points, np.float32, copy=True)
    out[..., :2] = points[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    out[np.asarray(points)[..., 2] <= 0] = 0
    return out


def pose_in_crop(pose: FramePose, box: np.ndarray, height: int, width: int) -> FramePose:
    return FramePose(*(points_in_crop(p, box, height, width) for p in (pose.body, pose.hands, pose.face)))


def interior_in_crop(frame_height: int, frame_width: int, box: np.ndarray, height: int, width: int) -> Box:
    """The frame's `head.frame_interior` (where its keypoints are located) in crop pixels, by the same map as the
    keypoints (`points_in_crop`): a point is inside one exactly when it is inside the other."""
    x0, y0, x1, y1 = frame_interior(frame_height, frame_width)
    corners = np.array([[x0, y0, 1.0], [x1, y1, 1.0]]) @ crop.crop_matrix(box, height, width).T
    return (float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]), float(corners[1, 1]))


def human_pose_map(pose: FramePose, height: int, width: int) -> np.ndarray:
    """The human pose map (H, W, 3) uint8 of crop-space keypoints."""
    return render_human_pose(pose, height, width)


def garment_input(photo: np.ndarray, landmarks: GarmentLandmarks, height: int, width: int) -> GarmentInput:
    """The garment photo and its landmarks (in photo pixels) fitted to the model's frame, with the pose map."""
    fit = fit_garment(*photo.shape[:2], height, width)
    fitted = replace(landmarks, points=fit.points(landmarks.points), height=height, width=width)
    return GarmentInput(
        category=landmarks.category,
        photo=photo,
        image=fit.image(photo),
        landmarks=fitted,
        pose_map=render_garment_pose(fitted, height, width),
    )


def latent_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(..., H, W) pixel mask (bool or {0, 1}) -> (..., h, w) bool: a latent cell repaints when most of it does."""
    import torch.nn.functional as F

    lead = mask.shape[:-2]
    flat = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    return (F.interpolate(flat, size=tuple(size), mode="area") > 0.5).reshape(*lead, *size)


def to_unit(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32 in [0, 1] (pose maps)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 255


def to_model_pixels(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, H, W) float32 in [-1, 1] (what the VAE and CLIP take)."""
    return to_unit(frames) * 2 - 1


def to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] (clamped) -> (T, H, W, 3) uint8."""
    return ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).cpu().numpy()


# -- the engine side: crop-space frames (`engines.base.CropFrame`) as model tensors -----------------------------


def frame_tensors(frames: list, latent_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """CropFrames -> (agnostic pixels (1, 3, t, H, W) in [-1, 1], latent-size masks (t, h, w) bool)."""
    import torch

    agnostic = to_model_pixels(np.stack([f.agnostic for f in frames]))[None]
    return agnostic, latent_mask(torch.from_numpy(np.stack([f.mask for f in frames])), latent_size)


def pose_maps_tensor(poses: list[FramePose], height: int, width: int) -> torch.Tensor:
    """Crop-space poses -> human pose maps (1, 3, T, H, W) in [0, 1]."""
    return to_unit(np.stack([human_pose_map(p, height, width) for p in poses]))[None]


def garment_tensors(garment: GarmentInput) -> tuple[torch.Tensor, torch.Tensor]:
    """The fitted garment -> (pixels (1, 3, H, W) in [-1, 1], pose map (1, 3, H, W) in [0, 1])."""
    return to_model_pixels(garment.image[None])[None, :, 0], to_unit(garment.pose_map[None])[None, :, 0]
