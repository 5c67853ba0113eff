"""Agnostic masks: the category's region is repainted, face, hands and feet are kept, frames are stable, and the
ViViD layout is written as the dataset has it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tryon_cli.errors import InputError
from tryon_cli.io import read_frames
from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose, PoseSequence
from tryon_cli.preprocess.mask_videos import write_vivid_layout
from tryon_cli.preprocess.masks import AGNOSTIC_GREY, agnostic_masks, frame_mask, temporal_vote

H, W = 320, 240
# A person facing the camera (right side on the image left), torso length 80 px.
STANDING = {
    "nose": (120, 40),
    "r_eye": (114, 35),
    "l_eye": (126, 35),
    "r_ear": (106, 38),
    "l_ear": (134, 38),
    "neck": (120, 70),
    "r_shoulder": (95, 72),
    "l_shoulder": (145, 72),
    "r_elbow": (85, 110),
    "l_elbow": (155, 110),
    "r_wrist": (82, 145),
    "l_wrist": (158, 145),
    "r_hip": (105, 150),
    "l_hip": (135, 150),
    "r_knee": (103, 210),
    "l_knee": (137, 210),
    "r_ankle": (102, 270),
    "l_ankle": (138, 270),
}


def _pose(shift: tuple[float, float] = (0, 0)) -> FramePose:
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in STANDING.items():
        body[BODY_INDEX[name]] = (x + shift[0], y + shift[1], 0.9)
    return FramePose(body)


def _at(mask: np.ndarray, name: str, dy: int = 0) -> bool:
    x, y = STANDING[name]
    return bool(mask[y + dy, x])


def test_upper_mask_covers_torso_and_arms_and_keeps_face_and_hands():
    mask = frame_mask(_pose(), "upper", H, W)
    assert _at(mask, "neck", 20) and _at(mask, "r_shoulder") and _at(mask, "l_elbow")
    assert mask[110, 120]  # mid-chest
    assert not _at(mask, "nose") and not _at(mask, "r_eye")  # face kept
    assert not mask[165, 80] and not mask[165, 160]  # hands, just beyond the wrists, kept
    assert not _at(mask, "r_knee") and not _at(mask, "l_ankle")


def test_category_changes_the_region():
    upper, lower, dress = (frame_mask(_pose(), c, H, W) for c in ("upper", "lower", "dress"))
    assert upper[110, 120] and not lower[110, 120] and dress[110, 120]  # chest
    assert not upper[210, 103] and lower[210, 103] and dress[210, 103]  # knee
    assert not lower[290, 102] and not dress[290, 102]  # feet kept
    assert dress.sum() > lower.sum() and dress.sum() > upper.sum()
    with pytest.raises(InputError, match="unknown garment category 'hat'"):
        frame_mask(_pose(), "hat", H, W)


def test_the_head_stops_below_the_chin_so_a_new_collar_may_cover_the_throat():
    # Eye line y=35, head height 1.6 x the ears' 28 px = 44.8 px: the chin at y=57.4, the collar point at y=60.
    mask = frame_mask(_pose(), "upper", H, W)
    assert not mask[56, 120] and mask[63, 120]


def test_a_side_view_keeps_the_chest_and_back_in_the_upper_mask():
    """Seen from the side the shoulders and hips collapse onto the spine: the torso keeps its depth (0.22 L either
    side of the spine, L = 80 px here), not just the margin around a line."""
    pose = _pose()
    for name, x in (("r_shoulder", 120), ("l_shoulder", 120), ("r_hip", 120), ("l_hip", 120)):
        pose.body[BODY_INDEX[name], 0] = x
    for name, (x, y) in {
        "r_elbow": (126, 110),
        "l_elbow": (126, 110),
        "r_wrist": (130, 145),
        "l_wrist": (130, 145),
    }.items():
        pose.body[BODY_INDEX[name], :2] = (x, y)
    mask = frame_mask(pose, "upper", H, W)
    assert mask[130, 100]  # the back, 20 px behind the spine at the waist: beyond the arms' reach
    assert not mask[130, 85]


def test_a_tops_sleeve_narrows_from_the_elbow_to_the_cuff():
    """Arms held out level (elbow 40 px, wrist 80 px from the shoulder): the forearm's region is (0.16 + 0.08) L = 19.2
    px either side of the arm at the elbow and (0.12 + 0.08) L = 16 px at the wrist (L = 80 px)."""
    pose = _pose()
    for name, (x, y) in {"r_elbow": (55, 72), "r_wrist": (15, 72), "l_elbow": (185, 72), "l_wrist": (225, 72)}.items():
        pose.body[BODY_INDEX[name], :2] = (x, y)
    mask = frame_mask(pose, "upper", H, W)
    for elbow_x, near_wrist_x in ((55, 20), (185, 220)):
        assert mask[72 - 19, elbow_x] and mask[72 + 19, elbow_x]
        assert mask[72 - 16, near_wrist_x] and not mask[72 - 18, near_wrist_x] and not mask[72 + 18, near_wrist_x]


def test_the_lower_mask_reaches_the_hips_outer_sides_at_the_waistband():
    """The pelvis is about twice as wide as the hip points' distance: its sides lie 0.12 L beyond each hip point, and
    a high-rise waistband 0.3 L above them (hip points at x = 105 and 135, y = 150; L = 80 px)."""
    mask = frame_mask(_pose(), "lower", H, W)
    assert mask[130, 92] and mask[130, 148]
    assert mask[121, 120] and not mask[112, 120]


def test_a_dress_mask_falls_from_the_hips_to_the_ankles_when_the_legs_are_together():
    """A long dress may fall straight from the hips' outer sides (x = 95.4 and 144.6; L = 80 px, margin 0.25 L = 20
    px) to the ankles, however close the feet are: with the ankles crossed under the body (a catwalk step) the mask
    still spans the hips' width grown by the margin just above the ankles (there the legs' regions and the hull
    they make with the wrists alone reach x = 81 to 159)."""
    pose = _pose()
    for name, (x, y) in {
        "r_knee": (112, 210),
        "l_knee": (128, 210),
        "r_ankle": (121, 270),
        "l_ankle": (119, 268),
    }.items():
        pose.body[BODY_INDEX[name], :2] = (x, y)
    dress = frame_mask(pose, "dress", H, W)
    assert dress[262, 77] and dress[262, 163]
    short = _pose()  # no ankles seen (a close-up): the skirt ends where the legs' regions do
    for name in ("r_ankle", "l_ankle"):
        short.body[BODY_INDEX[name]] = 0
    assert not frame_mask(short, "dress", H, W)[262:].any()


def test_frames_without_a_person_repaint_nothing():
    assert not frame_mask(FramePose(np.zeros((18, 3), np.float32)), "dress", H, W).any()


def test_masks_scale_with_the_person():
    small = frame_mask(_pose(), "upper", H, W).sum()
    big_pose = _pose()
    big_pose.body[:, :2] = big_pose.body[:, :2] * 2
    big = frame_mask(big_pose, "upper", 2 * H, 2 * W).sum()
    assert 3.6 < big / small < 4.4  # twice the size, four times the area


def _sequence(shifts) -> PoseSequence:
    return PoseSequence(body=np.stack([_pose(s).body for s in shifts]), height=H, width=W, fps=25.0)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_masks_are_temporally_stable_under_keypoint_jitter():
    rng = np.random.default_rng(0)
    poses = _sequence([tuple(rng.normal(0, 1.5, 2)) for _ in range(12)])
    masks = list(agnostic_masks(poses, "upper"))
    raw = list(agnostic_masks(poses, "upper", window=0))
    assert len(masks) == 12 and masks[0].shape == (H, W) and masks[0].dtype == bool

    def stability(seq):
        return np.mean([_iou(a, b) for a, b in zip(seq, seq[1:])])

    assert stability(masks) > stability(raw) + 0.01
    assert stability(masks) > 0.95


def test_temporal_vote_removes_a_one_frame_flicker_and_keeps_the_length():
    a, b = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    out = list(temporal_vote([a, a, b, a, a, b, b], window=1))
    assert len(out) == 7
    assert not out[2].any()  # a lone frame is outvoted by its neighbours
    assert out[5].all() and out[6].all()  # a lasting change is kept, up to the last frame


def test_write_vivid_layout(tmp_path):
    frames = [np.full((64, 48, 3), 200, np.uint8) for _ in range(5)]
    masks = [np.zeros((64, 48), bool) for _ in range(5)]
    for m in masks:
        m[16:48, 8:40] = True
    mask_path, agnostic_path = write_vivid_layout(frames, masks, tmp_path, "clip", fps=24.0)
    assert mask_path == tmp_path / "agnostic_mask" / "clip.mp4" and agnostic_path == tmp_path / "agnostic" / "clip.mp4"
    written_masks, agnostic = list(read_frames(mask_path)), list(read_frames(agnostic_path))
    assert len(written_masks) == len(agnostic) == 5
    assert written_masks[0][30, 24].min() > 240 and written_masks[0][2, 2].max() < 15
    assert abs(int(agnostic[0][30, 24, 0]) - AGNOSTIC_GREY) < 6 and abs(int(agnostic[0][2, 2, 0]) - 200) < 6


def test_write_vivid_layout_leaves_nothing_when_the_mask_is_short(tmp_path):
    frames = [np.zeros((32, 32, 3), np.uint8) for _ in range(4)]
    with pytest.raises(InputError, match="fewer frames"):
        write_vivid_layout(frames, [np.zeros((32, 32), bool)] * 3, tmp_path, "clip", fps=24.0)
    assert not list(tmp_path.rglob("*.mp4"))


@pytest.mark.parametrize(
    "clip, reference, category",
    [
        ("vivid/videos/upper1.mp4", "vivid/agnostic_mask/upper1.mp4", "upper"),
        ("vivid/videos/lower1.mp4", "vivid/agnostic_mask/lower1.mp4", "lower"),
        ("3dvton/videos/model_1.mp4", "3dvton/rec_agnostic_mask/model_1.mp4", "dress"),
    ],
)
def test_the_masks_meet_the_goal_against_the_dataset_authors_masks(shared_data, clip, reference, category):
    """Against the dataset authors' masks, from the shipped yolo pose model (poses cached by content) and as try-on
    makes them (with the frames): the old garment does not show (recall >= 0.95, issue 20; measured 0.952 / 0.962 /
    0.953) and the mask is not a box (IoU >= 0.65; measured 0.761 / 0.698 / 0.711). 3DV-TON's 1046043_detail is left
    out: its reference is a box around the whole person, 5.1 % of it in the face, hands, feet and hair that every
    mask keeps, so its recall cannot reach 0.95 (0.931 measured)."""
    from tryon_cli.preprocess.human_pose import video_poses

    video = shared_data / clip
    poses = video_poses(video, backend="yolo")
    references = [frame.mean(axis=2) > 127 for frame in read_frames(shared_data / reference)]
    ours = list(agnostic_masks(poses, category, frames=read_frames(video)))
    assert len(ours) == len(references)
    recall = np.mean([(o & r).sum() / r.sum() for o, r in zip(ours, references)])
    iou = np.mean([_iou(o, r) for o, r in zip(ours, references)])
    assert recall >= 0.95 and iou >= 0.65, (recall, iou)


@pytest.mark.parametrize("category", ["upper", "dress"])
def test_the_hull_step_equals_the_hull_of_every_pixel(category, monkeypatch):
    """`cover_region`'s "hull" step takes the hull of the drawn outlines; the reference is the hull of every
    drawn pixel (what it computed before, at several times the cost)."""
    import cv2

    from tryon_cli.preprocess import masks

    def every_pixel_hull(image):
        image = image.copy()
        cv2.fillConvexPoly(image, cv2.convexHull(cv2.findNonZero(image)), 1)
        return image

    rng = np.random.default_rng(3)
    for _ in range(6):
        pose = _pose((float(rng.uniform(-30, 30)), float(rng.uniform(-20, 20))))
        pose.body[:, :2] += rng.normal(0, 6, pose.body[:, :2].shape)
        real_parts = masks.PARTS[category]
        cut = real_parts.index("hull")
        monkeypatch.setitem(masks.PARTS, category, real_parts[:cut])
        drawn = masks.cover_region(pose.body, category, 512, 384)
        monkeypatch.setitem(masks.PARTS, category, real_parts[: cut + 1])
        assert np.array_equal(masks.cover_region(pose.body, category, 512, 384), every_pixel_hull(drawn))
        monkeypatch.setitem(masks.PARTS, category, real_parts)


# The masks of `_pose()` in every category, by `MASK_VERSION`: `dpidm train prepare` keys its cached masks by the
# version, so a change of the masks without a new version would let training reuse masks made by older code.
MASK_DIGESTS = {
    2: "fcf340754eb200f3",
    3: "fcf340754eb200f3",
    4: "fcf340754eb200f3",
    5: "fcf340754eb200f3",
    6: "fcf340754eb200f3",
    7: "fcf340754eb200f3",
    8: "34d7ac1d47e87883",
    9: "34d7ac1d47e87883",
    10: "34d7ac1d47e87883",
    11: "34d7ac1d47e87883",
    12: "34d7ac1d47e87883",  # the long hair held by the frames before: masks made with the frames only
    13: "34d7ac1d47e87883",  # lit strands bridged by the hair around them: masks made with the frames only
}


def test_changed_masks_come_with_a_new_mask_version():
    from tryon_cli.preprocess.masks import CATEGORIES, MASK_VERSION

    digest = hashlib.sha256()
    for category in CATEGORIES:
        digest.update(np.packbits(frame_mask(_pose(), category, H, W)).tobytes())
    assert digest.hexdigest()[:16] == MASK_DIGESTS.get(MASK_VERSION), (
        "the masks changed: raise masks.MASK_VERSION and pin the new digest here"
    )
