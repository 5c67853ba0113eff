"""Dataset readers on small fixtures in each real layout (REFERENCE.md section 2), augmentations, joint sampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from tests.test_data_fixtures import build_vitonhd, build_vivid, build_vvt, standing_poses, whole_body_poses
from tryon_cli.data import scan
from tryon_cli.data.annotations import PreparedCache
from tryon_cli.data.augment import OPENPOSE18_FLIP, drop_keypoints, flip_keypoints, flip_name_permutation
from tryon_cli.data.dataset import Augmentation, TryOnDataset
from tryon_cli.data.sampler import IMAGE, VIDEO, JointSampler, SampleKey
from tryon_cli.errors import InputError
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.conditioning import centre_box, crop_person, points_in_crop
from tryon_cli.preprocess.garment_fit import fit_garment
from tryon_cli.preprocess.keypoints import BODY_INDEX, BODY_NAMES

H, W = 64, 48


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("layouts")
    return {
        "vivid": build_vivid(root / "vivid", shared_data, frames=8),
        "vvt": build_vvt(root / "vvt", shared_data, frames=6),
        "vitonhd": build_vitonhd(root / "vitonhd", shared_data),
    }


def test_vivid_layout_pairs_videos_masks_and_garments(layouts):
    entries = scan("vivid", layouts["vivid"])
    assert [e.key for e in entries] == ["upper_body/videos/00001_detail", "upper_body/videos/00002_detail"]
    assert entries[0].garment.name == "00001_in_xl.jpg" and entries[0].mask.parent.name == "agnostic_mask"
    assert entries[0].category == "upper" and entries[0].is_video and entries[0].keypoints is None
    assert TryOnDataset(entries, layouts["vivid"], H, W).frame_counts == [8, 8]


def test_vvt_frame_folders_are_read_in_numeric_order_with_their_keypoints(layouts):
    (entry,) = scan("vvt", layouts["vvt"])
    assert entry.is_video and entry.garment.name.endswith("cloth_front.jpg")  # the .jpg, not the person .png
    dataset = TryOnDataset([entry], layouts["vvt"], H, W)
    assert dataset.frame_counts == [6]
    # frames are named @2, @4, ..., @12: text order would put @10 and @12 first and pair them with wrong poses
    poses = dataset._poses(entry, 1, 4)
    np.testing.assert_allclose(poses.body, standing_poses(6, H, W)[1:5], atol=1e-3)


def test_vitonhd_body25_keypoints_become_openpose18(layouts):
    entries = scan("vitonhd", layouts["vitonhd"])
    assert len(entries) == 2 and not entries[0].is_video
    dataset = TryOnDataset(entries, layouts["vitonhd"], H, W)
    np.testing.assert_allclose(dataset._poses(entries[0], 0, 1).body, standing_poses(1, H, W), atol=1e-3)
    assert dataset.frame_counts == [1, 1]


@pytest.mark.parametrize(
    ("name", "breakage", "expected"),
    [
        ("vivid", None, "upper_body"),
        ("vivid", "upper_body/agnostic_mask", "agnostic_mask"),
        ("vvt", None, "lip_train_frames"),
        ("vitonhd", "train_pairs.txt", "train_pairs.txt"),
        ("vitonhd", "train/cloth", "train/cloth"),
    ],
)
def test_wrong_root_or_missing_folder_names_the_expected_path(tmp_path, layouts, name, breakage, expected):
    import shutil

    root = tmp_path / name
    if breakage is not None:
        shutil.copytree(layouts[name], root)
        target = root / breakage
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    else:
        root.mkdir()
    with pytest.raises(InputError, match="expected") as err:
        scan(name, root)
    assert expected in str(err.value) and str(root) in str(err.value)


def test_missing_prepared_annotations_say_to_run_prepare(tmp_path, shared_data):
    root = build_vivid(tmp_path / "vivid", shared_data, frames=2, prepare=False)
    dataset = TryOnDataset(scan("vivid", root), root, H, W)
    with pytest.raises(InputError, match="dpidm train prepare"):
        dataset[SampleKey(0, 0, 1, 0, False)]


def test_sample_tensors_shapes_ranges_and_agnostic(layouts):
    dataset = TryOnDataset(scan("vivid", layouts["vivid"]), layouts["vivid"], H, W, Augmentation(0.0, 0.0))
    sample = dataset[SampleKey(1, 2, 4, 0, True)]
    assert sample["pixel_values"].shape == (3, 4, H, W) and sample["mask"].shape == (1, 4, H, W)
    assert sample["garment_pixels"].shape == (3, H, W) and sample["garment_pose_map"].shape == (3, H, W)
    assert sample["human_pose_maps"].shape == (3, 4, H, W) and bool(sample["drop_garment"])
    assert -1 <= float(sample["pixel_values"].min()) < float(sample["pixel_values"].max()) <= 1
    assert set(sample["mask"].unique().tolist()) == {0.0, 1.0}
    assert 0.05 < float(sample["mask"].mean()) < 0.9
    repaint = sample["mask"].bool().expand_as(sample["pixel_values"])
    # AGNOSTIC_GREY, converted as `dpidm tryon` converts pixels (x / 255 * 2 - 1: float32 rounding ~6e-8)
    assert torch.allclose(sample["agnostic_pixels"][repaint], torch.tensor(128 / 127.5 - 1), atol=1e-6)
    assert torch.equal(sample["agnostic_pixels"][~repaint], sample["pixel_values"][~repaint])
    assert float(sample["human_pose_maps"].amax()) == 1.0 and float(sample["garment_pose_map"].amax()) == 1.0
    # frames 2..5 of the clip: the pose maps of consecutive frames differ (the person sways)
    assert not torch.equal(sample["human_pose_maps"][:, 0], sample["human_pose_maps"][:, 3])


def _reads_as_facing_the_camera(pose) -> None:
    """Labels as a pose estimator gives them for a person facing the camera: each right body point on the image
    left of its left twin, each hand (0 = left) starting at its own wrist, the face's right side on the image left."""
    x = pose.body[:, 0]
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        assert x[BODY_INDEX[f"r_{part}"]] < x[BODY_INDEX[f"l_{part}"]], part
    for hand, wrist in ((0, "l_wrist"), (1, "r_wrist")):
        np.testing.assert_allclose(pose.hands[hand, 0, :2], pose.body[BODY_INDEX[wrist], :2], atol=1e-4)
    face = pose.face[:, 0]
    assert face[0] < face[16] and face[17] < face[26] and face[48] < face[54]  # jaw, brow and mouth ends
    assert face[36:42].max() < face[42:48].min()  # the right eye


def test_flip_mirrors_person_mask_garment_and_keeps_every_label_on_its_side(tmp_path, shared_data, monkeypatch):
    """A flipped sample is the mirrored frame as a pose estimator would label it: pixels mirrored, and the pose map
    drawn from keypoints mirrored (x -> W - 1 - x) with left and right swapped: body points by name, the two hands
    (DWPose's), the face's sides. The mirrored person still faces the camera, so its labels must read so."""
    from tryon_cli.data import dataset as dataset_module

    drawn = []
    draw = conditioning.human_pose_map
    monkeypatch.setattr(
        dataset_module.conditioning, "human_pose_map", lambda pose, h, w: drawn.append(pose) or draw(pose, h, w)
    )
    root = build_vivid(tmp_path / "vivid", shared_data, frames=3)
    PreparedCache(root).save_poses("upper_body/videos/00001_detail", whole_body_poses(3, H, W))
    entries, key = scan("vivid", root), SampleKey(0, 0, 3, 5, False)
    plain = TryOnDataset(entries, root, H, W, Augmentation(flip_p=0.0, keypoint_drop_p=0.0))[key]
    plain_poses, drawn[:] = list(drawn), []
    flipped = TryOnDataset(entries, root, H, W, Augmentation(flip_p=1.0, keypoint_drop_p=0.0))[key]
    for name in ("pixel_values", "mask", "agnostic_pixels", "garment_pixels"):
        assert torch.equal(flipped[name], plain[name].flip(-1)), name

    def mirrored(points):
        out = points.copy()
        out[..., 0] = np.where(points[..., 2] > 0, W - 1 - points[..., 0], 0)
        return out

    sides = {"l_": "r_", "r_": "l_"}
    other_side = [BODY_INDEX[sides[n[:2]] + n[2:]] if n[:2] in sides else i for i, n in enumerate(BODY_NAMES)]
    assert len(plain_poses) == len(drawn) == 3
    for before, after in zip(plain_poses, drawn):
        _reads_as_facing_the_camera(before)
        _reads_as_facing_the_camera(after)
        np.testing.assert_allclose(after.body, mirrored(before.body)[other_side], atol=1e-4)
        np.testing.assert_allclose(after.hands, mirrored(before.hands)[::-1], atol=1e-4)
        # the same 68 points, mirrored (their order is checked above)
        np.testing.assert_allclose(np.sort(after.face, axis=0), np.sort(mirrored(before.face), axis=0), atol=1e-4)
    maps = torch.stack([conditioning.to_unit(draw(pose, H, W)[None])[:, 0] for pose in drawn], dim=1)
    assert torch.equal(flipped["human_pose_maps"], maps)  # and the map is drawn from those keypoints


def test_flip_keypoints_mirrors_and_swaps_left_and_right():
    body = standing_poses(2, H, W)
    body[1, BODY_INDEX["l_wrist"]] = 0  # a missing point stays missing at (0, 0)
    flipped = flip_keypoints(body, W, OPENPOSE18_FLIP)
    for name in BODY_NAMES:
        mirror = name.replace("l_", "R").replace("r_", "l_").replace("R", "r_")
        np.testing.assert_allclose(flipped[0, BODY_INDEX[name], 0], W - 1 - body[0, BODY_INDEX[mirror], 0])
    assert np.all(flipped[1, BODY_INDEX["r_wrist"]] == 0)
    np.testing.assert_allclose(flip_keypoints(flipped, W, OPENPOSE18_FLIP), body, atol=1e-5)
    names = ["neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip"]
    assert flip_name_permutation(names) == [0, 2, 1, 4, 3]


def test_keypoint_drop_rate_and_encoding():
    points = np.ones((4000, 18, 3), np.float32)
    dropped = drop_keypoints(points, 0.05, np.random.default_rng(0))
    gone = dropped[..., 2] == 0
    assert 0.045 < gone.mean() < 0.055
    assert np.all(dropped[gone] == 0) and np.all(dropped[~gone] == 1)
    np.testing.assert_array_equal(drop_keypoints(points, 0.0, np.random.default_rng(0)), points)


def test_centre_box_cuts_pixels_and_moves_keypoints_alike():
    box = centre_box(100, 100, H, W)  # square -> 3:4 portrait: 12 px cut on the left, 13 on the right
    np.testing.assert_array_equal(box, [12, 0, 87, 100])
    np.testing.assert_array_equal(centre_box(100, 200, H, W), [62, 0, 137, 100])  # wide: the sides go
    np.testing.assert_array_equal(centre_box(300, 150, H, W), [0, 50, 150, 250])  # tall: top and bottom go
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :12] = 255  # the cut-off strip must not show up
    frame[38:43, 58:63] = 200  # a dot around (60, 40), where a keypoint sits
    pixels, _ = crop_person(frame, np.zeros((100, 100), bool), box, H, W)
    assert pixels[:, 1:].max() <= 200 and pixels[:, :1].max() < 255
    x, y, conf = points_in_crop(np.array([[60, 40, 1], [50, 50, 0]], np.float32), box, H, W)[0]
    assert conf == 1 and pixels[round(y), round(x)].min() > 100  # the keypoint lands on its dot
    assert (points_in_crop(np.array([[50, 50, 0]], np.float32), box, H, W) == 0).all()  # missing stays missing


def test_garment_fit_pads_with_white_and_moves_landmarks_with_the_pixels():
    wide = fit_garment(60, 120, H, W)  # a wide garment photo is padded (white) above and below, not cut
    assert (wide.left, wide.width) == (0, 120) and wide.top == 50 and wide.height == 160
    padded = wide.image(np.zeros((60, 120, 3), np.uint8))
    assert padded.shape == (H, W, 3) and padded[0].min() == 255 and padded[H // 2].max() == 0
    points = wide.points(np.array([[0, 0, 1], [120, 60, 1], [30, 30, 0]], np.float32))
    np.testing.assert_allclose(points, [[0, 50 * H / 160, 1], [W, 110 * H / 160, 1], [0, 0, 0]])


def test_joint_sampler_alternates_image_and_video_steps():
    sampler = JointSampler([30, 10, 24, 5], batch_size=3, clip_length=24, seed=7, garment_dropout=0.1)
    assert [sampler.phase(s) for s in range(4)] == [IMAGE, VIDEO, IMAGE, VIDEO]
    image, video = sampler.batch(0), sampler.batch(1)
    assert len(image) == len(video) == 3
    assert all(k.length == 1 and 0 <= k.start < [30, 10, 24, 5][k.entry] for k in image)
    assert all(k.length == 24 and k.entry in (0, 2) and k.start + 24 <= [30, 10, 24, 5][k.entry] for k in video)
    assert sampler.batch(5) == sampler.batch(5)  # a pure function of the step: resume draws the same data
    other_rank = JointSampler([30, 10, 24, 5], 3, 24, seed=7, garment_dropout=0.1, rank=1)
    assert other_rank.batch(5) != sampler.batch(5)
    assert list(sampler.batches(3, 5, accumulation=2)) == [
        sampler.batch(3, 0),
        sampler.batch(3, 1),
        sampler.batch(4, 0),
        sampler.batch(4, 1),
    ]
    drops = Counter(k.drop_garment for s in range(400) for k in sampler.batch(s))
    assert 0.07 < drops[True] / 1200 < 0.13


def test_joint_sampler_image_datasets_and_short_clips():
    images_only = JointSampler([1, 1, 1], batch_size=2, clip_length=24, seed=0, video_steps=False)
    assert {images_only.phase(s) for s in range(6)} == {IMAGE}
    assert all(k.start == 0 and k.length == 1 for k in images_only.batch(3))
    with pytest.raises(InputError, match="24 frames"):
        JointSampler([10, 12], batch_size=2, clip_length=24, seed=0)


def test_prepared_masks_round_trip(tmp_path):
    cache = PreparedCache(tmp_path)
    masks = np.random.default_rng(0).random((3, 8, 6)) > 0.5
    cache.save_masks("clips/a", masks, is_video=True)
    cache.save_masks("photos/b", masks[:1], is_video=False)
    assert sorted(p.name for p in cache.mask_path("clips/a", True).iterdir()) == [
        "000000.png",
        "000001.png",
        "000002.png",
    ]
    from tryon_cli.data.sources import read_source as _read

    np.testing.assert_array_equal(np.stack(_read(cache.mask_path("clips/a", True), 0, 3))[..., 0] > 127, masks)
    np.testing.assert_array_equal(_read(cache.mask_path("photos/b", False), 0, 1)[0][..., 0] > 127, masks[0])


def test_prepare_builds_dpidm_masks_for_every_clip_and_training_reads_them_by_default(tmp_path, shared_data):
    """ViViD ships masks; `prepare` still caches dpidm's (from the cached poses, as try-on builds them), training
    reads those unless `masks="dataset"`, and the two differ (else the choice would not matter)."""
    import shutil

    from tryon_cli.data.prepare import prepare_dataset
    from tryon_cli.preprocess.masks import agnostic_masks

    root = build_vivid(tmp_path / "vivid", shared_data, frames=4, height=H, width=W)
    cache = PreparedCache(root)
    shutil.rmtree(cache.root / "masks")
    report = prepare_dataset("vivid", root)
    assert report.masks == 2 and report.poses == 0  # poses were cached, masks are built for both clips
    entries = scan("vivid", root)
    key = SampleKey(0, 0, 4, 0, True)
    no_aug = Augmentation(0.0, 0.0)
    ours = TryOnDataset(entries, root, H, W, no_aug)[key]["mask"][0].numpy() > 0.5
    theirs = TryOnDataset(entries, root, H, W, no_aug, masks="dataset")[key]["mask"][0].numpy() > 0.5
    expected = np.stack(list(agnostic_masks(cache.load_poses(entries[0].key), "upper")))
    box = centre_box(H, W, H, W)
    expected = np.stack([crop_person(np.zeros((H, W, 3), np.uint8), m, box, H, W)[1] for m in expected]) > 0
    assert np.array_equal(ours, expected)
    assert (ours != theirs).mean() > 0.05


def test_masks_of_another_mask_algorithm_are_rebuilt_not_reused(tmp_path, shared_data, monkeypatch):
    """The mask cache is keyed by `MASK_VERSION`: after the algorithm changes, training is told to prepare, and
    `prepare` rebuilds the masks (and keeps the poses) instead of silently reusing the old ones."""
    from tryon_cli.data import annotations
    from tryon_cli.data.prepare import prepare_dataset, unprepared

    root = build_vivid(tmp_path / "vivid", shared_data, frames=4, height=H, width=W)
    cache = PreparedCache(root)
    entries = scan("vivid", root)
    assert unprepared("vivid", root, entries) is None
    old = cache.mask_path(entries[0].key, True) / "000000.png"
    old.write_bytes(old.read_bytes())  # stands for a mask made by the older code

    monkeypatch.setattr(annotations, "MASK_VERSION", annotations.MASK_VERSION + 1)
    assert "masks of 2" in unprepared("vivid", root, entries)
    no_aug = Augmentation(0.0, 0.0)
    with pytest.raises(InputError, match="dpidm train prepare"):
        TryOnDataset(entries, root, H, W, no_aug)[SampleKey(0, 0, 4, 0, True)]
    report = prepare_dataset("vivid", root)
    assert report.masks == 2 and report.poses == 0 and any("rebuilt" in note for note in report.notes)
    assert unprepared("vivid", root, entries) is None
    assert prepare_dataset("vivid", root).masks == 0  # now current: reused
