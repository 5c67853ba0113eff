"""One conditioning recipe: a real frame, its mask and a real garment photo through the training dataset and
through the try-on path give the same model inputs, given the same crop box.

The crop POLICY is the one stated difference (preprocess/conditioning.py, docs/design.md): training cuts the centre
box of the aspect, try-on a box that follows the person; here the try-on clip is handed the centre box.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.test_data_fixtures import build_vivid
from tryon_cli.data import scan
from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.dataset import Augmentation, TryOnDataset
from tryon_cli.data.sampler import SampleKey
from tryon_cli.io import probe_video, read_image
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks
from tryon_cli.progress import NullProgress
from tryon_cli.tryon import application, framing
from tryon_cli.tryon.clip import VideoCropClip
from tryon_cli.tryon.settings import TryOnSettings

H, W, FRAMES = 512, 384, 2


def test_training_and_tryon_give_identical_model_inputs(shared_data, tmp_path):
    # Real ViViD frames and mask at their size (624x832), the real garment photo, the same stored poses.
    root = build_vivid(tmp_path / "vivid", shared_data, frames=FRAMES, height=832, width=624)
    entry = scan("vivid", root)[0]
    cache = PreparedCache(root)
    photo = read_image(entry.garment)
    landmarks, _ = detect_garment_landmarks(photo, entry.category)  # what `dpidm train prepare` stores
    cache.save_garment(cache.garment_key(entry.garment), landmarks)
    # The dataset's own masks on both sides (try-on is given them as --mask): the recipe is what is compared here.
    sample = TryOnDataset([entry], root, H, W, Augmentation(flip_p=0.0, keypoint_drop_p=0.0), masks="dataset")[
        SampleKey(0, 0, FRAMES, 0, False)
    ]

    meta = probe_video(entry.person)
    poses = cache.load_poses(entry.key)
    box = conditioning.centre_box(meta.height, meta.width, H, W)
    clip = VideoCropClip(
        entry.person,
        0,
        poses,
        np.tile(box, (FRAMES, 1)),
        category=entry.category,
        mask_video=entry.mask,
        height=H,
        width=W,
        fps=meta.fps,
    )
    frames = list(clip.frames())
    latent_size = (H // 8, W // 8)
    agnostic, latent_masks = conditioning.frame_tensors(frames, latent_size)
    garment = application._garment_input(
        photo, TryOnSettings(category=entry.category, height=H, width=W), NullProgress()
    )
    garment_pixels, garment_pose = conditioning.garment_tensors(garment)

    assert torch.equal(sample["agnostic_pixels"], agnostic[0])
    assert torch.equal(sample["pixel_values"], conditioning.to_model_pixels(np.stack([f.source for f in frames])))
    assert torch.equal(conditioning.latent_mask(sample["mask"][0], latent_size), latent_masks)
    assert 0.05 < latent_masks.float().mean() < 0.7  # a real repaint region, not all or nothing
    assert torch.equal(sample["human_pose_maps"], conditioning.pose_maps_tensor(clip.poses(), H, W)[0])
    assert sample["human_pose_maps"].amax() > 0  # the pose was drawn
    assert torch.equal(sample["garment_pixels"], garment_pixels[0])
    assert torch.equal(sample["garment_pose_map"], garment_pose[0])
    assert garment_pose.amax() > 0

    # The stated difference: try-on's own box follows the person, so on this clip it is not the centre box.
    person_boxes = framing.crop_boxes(poses.body, meta.width, meta.height, H, W)
    assert np.abs(person_boxes - box).max() > 10
