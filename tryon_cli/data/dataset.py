"""A torch Dataset over `ClipEntry`s: reads a clip's frames, mask, poses and garment, applies the conditioning
recipe that `dpidm tryon` uses (`preprocess.conditioning`: crops, grey-out, pose maps, garment fit, pixel conversions)
with training's crop policy (the centre box), augments, and returns model-ready tensors. Loading is a pure
function of a `SampleKey`.

A sample (T = key.length, H x W = the training size):
  pixel_values      (3, T, H, W) in [-1, 1]   the person frames (the target)
  mask              (1, T, H, W) in {0, 1}    1 = the region to repaint
  agnostic_pixels   (3, T, H, W) in [-1, 1]   pixel_values with the repaint region grey (AGNOSTIC_GREY, as at inference)
  human_pose_maps   (3, T, H, W) in [0, 1]    rendered after flip and keypoint drop
  garment_pixels    (3, H, W) in [-1, 1]      padded with white to the aspect, as `dpidm tryon` fits it
  garment_pose_map  (3, H, W) in [0, 1]
  drop_garment      bool                       garment-condition dropout (classifier-free guidance)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.augment import (
    FACE68_FLIP,
    OPENPOSE18_FLIP,
    drop_keypoints,
    flip_keypoints,
    flip_name_permutation,
)
from tryon_cli.data.entries import ClipEntry
from tryon_cli.data.sampler import SampleKey
from tryon_cli.data.sources import frame_count, read_source, shipped_poses
from tryon_cli.errors import InputError
from tryon_cli.io import GARMENT_MAX_SIDE, read_image
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.keypoints import FramePose, GarmentLandmarks, PoseSequence
from tryon_cli.preprocess.pose_maps import render_garment_pose


@dataclass(frozen=True)
class Augmentation:
    flip_p: float = 0.5
    keypoint_drop_p: float = 0.05


class TryOnDataset(Dataset):
    def __init__(
        self,
        entries: list[ClipEntry],
        root: Path,
        height: int = 512,
        width: int = 384,
        augmentation: Augmentation = Augmentation(),
        masks: str = "dpidm",
    ):
        """`masks`: "dpidm" (the masks `dpidm train prepare` cached, as try-on builds them) or "dataset" (the
        dataset's own, dpidm's where it ships none)."""
        self.entries = entries
        self.root = Path(root)
        self.cache = PreparedCache(root)
        self.height, self.width = height, width
        self.augmentation = augmentation
        self.masks = masks
        known = self.cache.frame_counts()
        self.frame_counts = [known.get(e.key) or frame_count(e.person) for e in entries]

    def __len__(self) -> int:
        return len(self.entries)

    # -- reading ---------------------------------------------------------------------------------------------
    def _masks(self, entry: ClipEntry, start: int, length: int) -> np.ndarray:
        shipped = entry.mask if self.masks == "dataset" else None
        source = shipped or self.cache.mask_path(entry.key, entry.is_video)
        if not (source.exists() if shipped else self.cache.has_masks(entry.key, entry.is_video)):
            raise InputError(f"no agnostic mask for {entry.key}: expected {source} (run `dpidm train prepare`)")
        frames = read_source(source, start, length)
        return np.stack([(f if f.ndim == 2 else f.max(axis=-1)) > 127 for f in frames])

    @staticmethod
    def _frame_sized(masks: np.ndarray, height: int, width: int) -> np.ndarray:
        # A mask video of another size than the frames covers the same field of view.
        if masks.shape[1:] == (height, width):
            return masks
        return np.stack(
            [cv2.resize(m.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0 for m in masks]
        )

    def _poses(self, entry: ClipEntry, start: int, length: int) -> PoseSequence:
        if entry.keypoints is None:
            return self.cache.load_poses(entry.key).slice(start, start + length)
        return shipped_poses(entry, start, length)

    # -- one sample ------------------------------------------------------------------------------------------
    def __getitem__(self, key: SampleKey) -> dict:
        entry = self.entries[key.entry]
        frames = np.stack(read_source(entry.person, key.start, key.length))
        if len(frames) != key.length:
            raise InputError(
                f"{entry.person}: expected frames {key.start}..{key.start + key.length - 1}, read {len(frames)}"
            )
        masks = self._frame_sized(self._masks(entry, key.start, key.length), *frames.shape[1:3])
        poses = self._poses(entry, key.start, key.length)
        garment = read_image(entry.garment, GARMENT_MAX_SIDE)
        landmarks = self.cache.load_garment(self.cache.garment_key(entry.garment))
        H, W = self.height, self.width

        # The conditioning recipe of `dpidm tryon`, with training's crop policy: the centre box of the aspect.
        box = conditioning.centre_box(*frames.shape[1:3], H, W)
        crops = [conditioning.crop_person(frame, mask, box, H, W) for frame, mask in zip(frames, masks)]
        pixels, mask = np.stack([c[0] for c in crops]), np.stack([c[1] for c in crops])
        body, hands, face = (conditioning.points_in_crop(p, box, H, W) for p in (poses.body, poses.hands, poses.face))
        garment_image = conditioning.garment_input(garment, landmarks, H, W)
        garment_pixels, garment_points = garment_image.image, garment_image.landmarks.points

        rng = np.random.default_rng(key.seed)
        if rng.random() < self.augmentation.flip_p:
            pixels, mask, garment_pixels = pixels[:, :, ::-1], mask[:, :, ::-1], garment_pixels[:, ::-1]
            body = flip_keypoints(body, W, OPENPOSE18_FLIP)
            hands = None if hands is None else flip_keypoints(hands, W, None)[:, ::-1]  # left hand <-> right hand
            face = None if face is None else flip_keypoints(face, W, FACE68_FLIP)
            garment_points = flip_keypoints(garment_points, W, flip_name_permutation(list(landmarks.names)))
        drop = self.augmentation.keypoint_drop_p
        body = drop_keypoints(body, drop, rng)
        hands = None if hands is None else drop_keypoints(hands, drop, rng)
        face = None if face is None else drop_keypoints(face, drop, rng)

        pose_maps = np.stack(
            [
                conditioning.human_pose_map(
                    FramePose(body[t], None if hands is None else hands[t], None if face is None else face[t]), H, W
                )
                for t in range(key.length)
            ]
        )
        garment_map = render_garment_pose(
            GarmentLandmarks(landmarks.category, landmarks.names, garment_points, landmarks.estimated, H, W), H, W
        )
        return {
            "pixel_values": conditioning.to_model_pixels(pixels),
            "mask": torch.from_numpy(np.ascontiguousarray(mask))[None].float(),
            "agnostic_pixels": conditioning.to_model_pixels(conditioning.grey_out(pixels, mask)),
            "human_pose_maps": conditioning.to_unit(pose_maps),
            "garment_pixels": conditioning.to_model_pixels(garment_pixels[None])[:, 0],
            "garment_pose_map": conditioning.to_unit(garment_map[None])[:, 0],
            "drop_garment": torch.tensor(key.drop_garment),
        }
