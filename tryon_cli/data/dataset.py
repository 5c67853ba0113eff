"""A torch Dataset over `ClipEntry`s: reads a clip's frames, mask, poses and garment, augments them, renders the
pose maps, and returns model-ready tensors. Loading is a pure function of a `SampleKey`.

A sample (T = key.length, H x W = the training size):
  pixel_values      (3, T, H, W) in [-1, 1]   the person frames (the target)
  mask              (1, T, H, W) in {0, 1}    1 = the region to repaint
  agnostic_pixels   (3, T, H, W) in [-1, 1]   pixel_values with the repaint region grey (AGNOSTIC_GREY, as at inference)
  human_pose_maps   (3, T, H, W) in [0, 1]    rendered after flip and keypoint drop
  garment_pixels    (3, H, W) in [-1, 1]      padded with white to the aspect, as the try-on pipeline fits it
  garment_pose_map  (3, H, W) in [0, 1]
  drop_garment      bool                       garment-condition dropout (classifier-free guidance)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.augment import OPENPOSE18_FLIP, CropBox, drop_keypoints, flip_keypoints, flip_name_permutation
from tryon_cli.data.entries import ClipEntry
from tryon_cli.data.sampler import SampleKey
from tryon_cli.errors import InputError
from tryon_cli.data.sources import frame_count, read_source, shipped_poses
from tryon_cli.io import read_image
from tryon_cli.preprocess.garment_fit import fit_garment
from tryon_cli.preprocess.masks import AGNOSTIC_GREY
from tryon_cli.preprocess.keypoints import FramePose, GarmentLandmarks, PoseSequence
from tryon_cli.preprocess.pose_maps import render_garment_pose, render_human_pose


@dataclass(frozen=True)
class Augmentation:
    flip_p: float = 0.5
    keypoint_drop_p: float = 0.05


class TryOnDataset(Dataset):
    def __init__(self, entries: list[ClipEntry], root: Path, height: int = 512, width: int = 384,
                 augmentation: Augmentation = Augmentation()):
        self.entries = entries
        self.root = Path(root)
        self.cache = PreparedCache(root)
        self.height, self.width = height, width
        self.augmentation = augmentation
        known = self.cache.frame_counts()
        self.frame_counts = [known.get(e.key) or frame_count(e.person) for e in entries]

    def __len__(self) -> int:
        return len(self.entries)

    # -- reading ---------------------------------------------------------------------------------------------
    def _masks(self, entry: ClipEntry, start: int, length: int) -> np.ndarray:
        source = entry.mask or self.cache.mask_path(entry.key, entry.is_video)
        if not source.exists():
            raise InputError(f"no agnostic mask for {entry.key}: expected {source} (run `dpidm train prepare`)")
        frames = read_source(source, start, length)
        return np.stack([(f if f.ndim == 2 else f.max(axis=-1)) > 127 for f in frames])

    def _poses(self, entry: ClipEntry, start: int, length: int) -> PoseSequence:
        if entry.keypoints is None:
            return self.cache.load_poses(entry.key).slice(start, start + length)
        return shipped_poses(entry, start, length)

    # -- one sample ------------------------------------------------------------------------------------------
    def __getitem__(self, key: SampleKey) -> dict:
        entry = self.entries[key.entry]
        frames = np.stack(read_source(entry.person, key.start, key.length))
        if len(frames) != key.length:
            raise InputError(f"{entry.person}: expected frames {key.start}..{key.start + key.length - 1}, read {len(frames)}")
        masks = self._masks(entry, key.start, key.length)
        poses = self._poses(entry, key.start, key.length)
        garment = read_image(entry.garment)
        landmarks = self.cache.load_garment(self.cache.garment_key(entry.garment))
        H, W = self.height, self.width

        box = CropBox.fit(*frames.shape[1:3], H, W)
        pixels = box.pixels(frames)
        mask = CropBox.fit(*masks.shape[1:3], H, W).mask(masks)
        body = box.points(poses.body)
        hands = None if poses.hands is None else box.points(poses.hands)
        face = None if poses.face is None else box.points(poses.face)
        # Fitted exactly as `dpidm tryon` fits it, so the model trains on the garment pixels it will be given.
        garment_fit = fit_garment(*garment.shape[:2], H, W)
        garment_pixels = torch.from_numpy(garment_fit.image(garment)).permute(2, 0, 1).float() / 127.5 - 1
        garment_points = garment_fit.points(landmarks.points)

        rng = np.random.default_rng(key.seed)
        if rng.random() < self.augmentation.flip_p:
            pixels, mask, garment_pixels = pixels.flip(-1), mask.flip(-1), garment_pixels.flip(-1)
            body = flip_keypoints(body, W, OPENPOSE18_FLIP)
            hands = None if hands is None else flip_keypoints(hands, W, None)[:, ::-1]  # left hand <-> right hand
            face = None if face is None else flip_keypoints(face, W, None)  # drawn as dots: order does not matter
            garment_points = flip_keypoints(garment_points, W, flip_name_permutation(list(landmarks.names)))
        drop = self.augmentation.keypoint_drop_p
        body = drop_keypoints(body, drop, rng)
        hands = None if hands is None else drop_keypoints(hands, drop, rng)
        face = None if face is None else drop_keypoints(face, drop, rng)

        pose_maps = np.stack([
            render_human_pose(FramePose(body[t], None if hands is None else hands[t], None if face is None else face[t]), H, W)
            for t in range(key.length)
        ])
        garment_map = render_garment_pose(
            GarmentLandmarks(landmarks.category, landmarks.names, garment_points, landmarks.estimated, H, W), H, W
        )
        pixels = pixels.permute(1, 0, 2, 3)  # (3, T, H, W)
        mask = mask.permute(1, 0, 2, 3)
        return {
            "pixel_values": pixels,
            "mask": mask,
            "agnostic_pixels": torch.where(mask.bool(), AGNOSTIC_GREY / 127.5 - 1, pixels),
            "human_pose_maps": torch.from_numpy(pose_maps).permute(3, 0, 1, 2).float() / 255,
            "garment_pixels": garment_pixels,
            "garment_pose_map": torch.from_numpy(garment_map).permute(2, 0, 1).float() / 255,
            "drop_garment": torch.tensor(key.drop_garment),
        }
