"""Head and hand regions: the face (crown to chin) and the hands stay out of every agnostic mask, whatever head points
the pose has: a face, a profile, a back view with the ears only, a head at the frame's top edge or beyond it."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_cli.preprocess.conditioning import interior_in_crop, pose_in_crop
from tryon_cli.preprocess.hands import hand_regions
from tryon_cli.preprocess.head import face_box, head_region
from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose
from tryon_cli.preprocess.masks import CATEGORIES, agnostic_masks, frame_mask

H, W = 400, 240
# A person facing the camera, torso (neck to mid-hip) 120 px, so by adult proportions a head ~50 px high: eyes at
# y=52, the chin ~25 px below them at y~77, the neck point (the shoulders' midpoint) at y=90.
FRONT = {
    "nose": (120, 62),
    "r_eye": (113, 52),
    "l_eye": (127, 52),
    "r_ear": (104, 55),
    "l_ear": (136, 55),
    "neck": (120, 90),
    "r_shoulder": (90, 92),
    "l_shoulder": (150, 92),
    "r_elbow": (80, 150),
    "l_elbow": (160, 150),
    "r_wrist": (78, 200),
    "l_wrist": (162, 200),
    "r_hip": (102, 210),
    "l_hip": (138, 210),
    "r_knee": (100, 290),
    "l_knee": (140, 290),
    "r_ankle": (100, 370),
    "l_ankle": (140, 370),
}
CHIN = (120, 76)
MOUTH = (120, 69)
FOREHEAD = (120, 36)


def _pose(points: dict, drop: tuple[str, ...] = (), shift: tuple[float, float] = (0, 0)) -> FramePose:
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in points.items():
        if name not in drop:
            body[BODY_INDEX[name]] = (x + shift[0], y + shift[1], 0.9)
    return FramePose(body)


def _kept_everywhere(pose: FramePose, xy: tuple[int, int], height: int = H) -> bool:
    """The pixel is outside the mask of every category."""
    x, y = xy
    return all(not frame_mask(pose, category, height, W)[y, x] for category in CATEGORIES)


def _box_out_of_masks(pose: FramePose, height: int = H) -> bool:
    box = face_box(pose, height, W)
    assert box is not None
    x0, y0, x1, y1 = box
    return all(not frame_mask(pose, category, height, W)[y0:y1, x0:x1].any() for category in CATEGORIES)


def test_the_face_from_its_points_down_to_the_chin_is_kept_in_every_category():
    pose = _pose(FRONT)
    for point in (CHIN, MOUTH, FRONT["nose"], FOREHEAD):
        assert _kept_everywhere(pose, point), point
    assert _box_out_of_masks(pose)
    x0, y0, x1, y1 = face_box(pose, H, W)
    assert y0 <= FOREHEAD[1] and y1 > CHIN[1] and x0 <= FRONT["r_ear"][0] and x1 > FRONT["l_ear"][0]
    # ... and the collar below the chin, the shoulders are still the upper garment's
    upper = frame_mask(pose, "upper", H, W)
    assert upper[95, 120] and upper[92, 95]


def test_a_head_at_the_top_edge_with_the_eyes_out_of_frame():
    """Shifted up 60 px: the eyes leave the frame (missing), the nose sits at the edge; the chin stays kept."""
    shift = (0, -60)
    pose = _pose(FRONT, drop=("r_eye", "l_eye", "r_ear", "l_ear"), shift=shift)
    pose.body[BODY_INDEX["nose"], 1] = 1.0  # clamped at the edge, as detectors do
    chin = (CHIN[0], CHIN[1] + shift[1])
    assert _kept_everywhere(pose, chin) and _kept_everywhere(pose, (MOUTH[0], MOUTH[1] + shift[1]))
    assert _box_out_of_masks(pose)


def test_a_head_point_clamped_to_the_top_edge_does_not_pull_the_head_down():
    """The nose lies 13 px beyond the top edge and the detector puts it on the edge (y=1): the head is placed from
    the neck instead, so the chin at the edge is kept and the collar just below the neck point is repainted."""
    shift = (0, -75)
    pose = _pose(FRONT, drop=("r_eye", "l_eye", "r_ear", "l_ear"), shift=shift)
    pose.body[BODY_INDEX["nose"], 1] = 1.0
    assert _kept_everywhere(pose, (CHIN[0], CHIN[1] + shift[1]))
    assert frame_mask(pose, "upper", H, W)[FRONT["neck"][1] + shift[1] + 5, 120]
    assert face_box(pose, H, W) is not None and _box_out_of_masks(pose)


def test_a_crop_reaching_above_the_frame_places_the_head_as_the_frame_does():
    """The warp engine's crop of the frame above (nose clamped onto the frame's top edge) reaches 40 pixels above
    the frame: with the frame's interior mapped into the crop, the head region is the frame's, moved down 40 rows.
    By the crop's own border the clamped nose would count as seen, and pull the head down."""
    shift = (0, -75)
    pose = _pose(FRONT, drop=("r_eye", "l_eye", "r_ear", "l_ear"), shift=shift)
    pose.body[BODY_INDEX["nose"], 1] = 1.0
    box = np.array([0.0, -40.0, W, H - 40.0])
    cropped = pose_in_crop(pose, box, H, W)
    interior = interior_in_crop(H, W, box, H, W)
    in_frame = head_region(pose, H, W)[: H - 40]
    in_crop = head_region(cropped, H, W, interior)[40:]
    np.testing.assert_array_equal(in_crop, in_frame)
    x0, y0, x1, y1 = face_box(pose, H, W)
    cx0, cy0, cx1, cy1 = face_box(cropped, H, W, interior)  # not cut at the frame's top: it runs into the padding
    assert (cx0, cx1, cy1) == (x0, x1, y1 + 40) and cy0 <= y0 + 40
    assert (head_region(cropped, H, W)[40:] != in_frame).any()


def test_a_head_wholly_out_of_frame_is_placed_above_the_neck():
    """No head point at all: the head comes from the neck and the body's axis; the chin just inside the frame's top
    edge is kept, the chest is not."""
    shift = (0, -72)
    pose = _pose(FRONT, drop=("nose", "r_eye", "l_eye", "r_ear", "l_ear"), shift=shift)
    assert face_box(pose, H, W) is None  # no head keypoints: no face box
    assert _kept_everywhere(pose, (CHIN[0], CHIN[1] + shift[1]))
    assert frame_mask(pose, "upper", H, W)[60, 120]


def test_a_profile_keeps_the_chin_in_front_of_the_neck():
    """Facing the image's left: the nose ahead of the one visible eye and ear; the chin is under the nose."""
    profile = dict(FRONT, nose=(100, 62), r_eye=(106, 52), r_ear=(124, 55))
    pose = _pose(profile, drop=("l_eye", "l_ear"))
    for chin in ((104, 77), (110, 78)):
        assert _kept_everywhere(pose, chin), chin
    assert _box_out_of_masks(pose)


def test_a_back_view_with_the_ears_only_keeps_the_back_of_the_head():
    pose = _pose(FRONT, drop=("nose", "r_eye", "l_eye"))
    for point in ((120, 40), (120, 55), (120, 72), (108, 60), (132, 60)):
        assert _kept_everywhere(pose, point), point
    assert _box_out_of_masks(pose)


def test_a_tilted_head_keeps_its_chin():
    """Head tilted 30 degrees to the image's right about the neck: the chin moves with it."""
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    neck = np.array(FRONT["neck"], float)
    tilted = dict(FRONT)
    for name in ("nose", "r_eye", "l_eye", "r_ear", "l_ear"):
        tilted[name] = tuple(neck + rotation @ (np.array(FRONT[name], float) - neck))
    chin = tuple(np.round(neck + rotation @ (np.array(CHIN, float) - neck)).astype(int))
    pose = _pose(tilted)
    assert _kept_everywhere(pose, chin)
    assert _box_out_of_masks(pose)


def test_dwpose_face_points_reach_a_chin_below_the_model_head():
    """A long face (its jaw points 12 px below where the proportions put the chin): the face points' outline keeps
    it; without the face points the same pixel would be repainted."""
    pose = _pose(FRONT)
    low_chin = (120, CHIN[1] + 12)
    assert frame_mask(pose, "upper", H, W)[low_chin[1], low_chin[0]]  # the proportions alone do not reach it
    angles = np.linspace(0, np.pi, 68)
    jaw = np.stack([120 + 16 * np.cos(angles), 52 + (low_chin[1] - 52) * np.sin(angles)], axis=1)
    pose.face = np.concatenate([jaw, np.full((68, 1), 0.9)], axis=1).astype(np.float32)
    assert _kept_everywhere(pose, low_chin)


def test_the_head_scales_with_the_person():
    small = head_region(_pose(FRONT), H, W).sum()
    big = _pose(FRONT)
    big.body[:, :2] *= 2
    assert 3.5 < head_region(big, 2 * H, 2 * W).sum() / small < 4.5


def test_hands_lie_along_the_forearm_without_hand_points():
    """A raised forearm: the hand is kept above the wrist, not below it; a hanging one below."""
    raised = dict(FRONT, r_wrist=(80, 110), r_elbow=(80, 150))  # forearm pointing up
    hands = hand_regions(_pose(raised), H, W)
    assert hands[95, 80] and not hands[130, 80]
    hands = hand_regions(_pose(FRONT), H, W)
    assert hands[215, 78] and hands[215, 162] and not hands[185, 78]
    for category in CATEGORIES:
        mask = frame_mask(_pose(FRONT), category, H, W)
        assert not mask[215, 78] and not mask[215, 162], category


def test_hand_points_outline_the_hand_when_the_pose_has_them():
    pose = _pose(FRONT)
    pose.hands = np.zeros((2, 21, 3), np.float32)
    right = np.array([(60 + i % 5 * 3, 100 + i // 5 * 3) for i in range(21)], np.float32)  # a hand held up
    pose.hands[1, :, :2], pose.hands[1, :, 2] = right, 0.9
    hands = hand_regions(pose, H, W)
    assert hands[106, 66]  # inside the points
    assert not hands[215, 78]  # not guessed from the forearm
    assert hands[215, 162]  # the left hand has no points: still from its forearm


def test_the_vote_never_puts_a_face_back():
    """The head moves down 12 px in one frame: its neighbours' masks cover its chin, the frame's own cut wins."""
    from tryon_cli.preprocess.keypoints import PoseSequence

    shifts = [(0, 0)] * 3 + [(0, 12)] + [(0, 0)] * 3
    poses = PoseSequence(body=np.stack([_pose(FRONT, shift=s).body for s in shifts]), height=H, width=W)
    for category in CATEGORIES:
        masks = list(agnostic_masks(poses, category, window=3))
        x0, y0, x1, y1 = face_box(poses[3], H, W)
        assert not masks[3][y0:y1, x0:x1].any(), category


CLIPS = [
    ("examples", "person.mp4", "upper", None),
    ("vivid", "videos/upper1.mp4", "upper", None),
    ("vivid", "videos/lower1.mp4", "lower", None),
    ("3dvton", "videos/model_1.mp4", "dress", (0, 48)),
]


@pytest.mark.slow
@pytest.mark.parametrize("folder, video, category, frames", CLIPS)
def test_no_face_box_pixel_is_in_the_mask_on_real_clips(folder, video, category, frames, shared_data):
    """On the shipped example and the shared clips (yolo poses, cached by content): in every frame where the pose
    has a head point, the face box from those points has no pixel in the mask; nor in the other categories."""
    from pathlib import Path

    from tryon_cli.preprocess.human_pose import video_poses

    root = Path(__file__).resolve().parents[1] / "examples" if folder == "examples" else shared_data / folder
    poses = video_poses(root / video, backend="yolo", frames=frames)
    boxes = [face_box(pose, poses.height, poses.width) for pose in poses]
    assert sum(box is not None for box in boxes) >= len(poses) // 2  # the check is not vacuous
    for name in {category, "dress"}:
        for t, (mask, box) in enumerate(zip(agnostic_masks(poses, name), boxes)):
            if box is not None:
                x0, y0, x1, y1 = box
                assert not mask[y0:y1, x0:x1].any(), (name, t)
