"""Pose maps: a garment landmark and its human keypoint share one colour and limb; missing points are not drawn."""

from __future__ import annotations

import numpy as np

from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose, GarmentLandmarks
from tryon_cli.preprocess.pose_maps import COLORS, LIMB_SHADE, LIMBS, render_garment_pose, render_human_pose

H, W = 256, 192


def _body(points: dict[str, tuple[float, float]], conf: float = 0.9) -> np.ndarray:
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in points.items():
        body[BODY_INDEX[name]] = (x, y, conf)
    return body


UPPER = {
    "neck": (96, 40),
    "r_shoulder": (60, 45),
    "r_elbow": (45, 100),
    "r_wrist": (40, 150),
    "l_shoulder": (132, 45),
    "l_elbow": (147, 100),
    "l_wrist": (152, 150),
    "r_hip": (75, 160),
    "l_hip": (117, 160),
}


def _limb_colour(a: str, b: str) -> tuple[int, ...]:
    index = LIMBS.index((BODY_INDEX[a], BODY_INDEX[b]))
    return tuple(int(c * LIMB_SHADE) for c in COLORS[index])


def test_garment_landmark_and_human_keypoint_share_colour_and_limb():
    names = tuple(UPPER)
    garment = GarmentLandmarks("upper", names, np.array([[*UPPER[n], 0.6] for n in names], np.float32), True, H, W)
    human = _body(UPPER)
    human[BODY_INDEX["nose"]] = (96, 15, 0.9)  # the human has more points than the garment; they do not matter
    garment_map, human_map = render_garment_pose(garment, H, W), render_human_pose(human, H, W)
    for name, (x, y) in UPPER.items():
        expected = COLORS[BODY_INDEX[name]]
        assert tuple(garment_map[y, x]) == expected == tuple(human_map[y, x]), name
    # The limb r_shoulder-r_elbow, halfway along: the same colour in both maps, and that limb's colour.
    mid = ((60 + 45) // 2, (45 + 100) // 2)
    assert (
        tuple(garment_map[mid[1], mid[0]]) == tuple(human_map[mid[1], mid[0]]) == _limb_colour("r_shoulder", "r_elbow")
    )
    # Right and left are different colours: a swapped garment would not match.
    assert COLORS[BODY_INDEX["r_elbow"]] != COLORS[BODY_INDEX["l_elbow"]]


def test_garment_pose_is_scaled_to_the_requested_size():
    garment = GarmentLandmarks(
        "upper", ("r_elbow",), np.array([[50, 100, 0.9]], np.float32), True, height=200, width=100
    )
    pose_map = render_garment_pose(garment, 400, 200)
    assert tuple(pose_map[200, 100]) == COLORS[BODY_INDEX["r_elbow"]]


def test_missing_and_low_confidence_points_are_not_drawn():
    full = _body(UPPER)
    assert render_human_pose(np.zeros((18, 3), np.float32), H, W).max() == 0
    dropped = full.copy()
    dropped[BODY_INDEX["r_elbow"], 2] = 0.0  # dropped
    dropped[BODY_INDEX["l_elbow"], 2] = 0.1  # below the 0.3 threshold
    pose_map = render_human_pose(dropped, H, W)
    for name in ("r_elbow", "l_elbow"):
        x, y = UPPER[name]
        assert tuple(pose_map[y, x]) == (0, 0, 0), name
    colours = {tuple(c) for c in pose_map.reshape(-1, 3)}
    for limb in (("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow")):
        assert _limb_colour(*limb) not in colours, limb
    assert _limb_colour("neck", "r_shoulder") in colours
    # The wrists stay, as lone dots.
    assert tuple(pose_map[150, 40]) == COLORS[BODY_INDEX["r_wrist"]]


def test_hands_and_face_are_drawn_only_when_present():
    body = _body(UPPER)
    hands = np.zeros((2, 21, 3), np.float32)
    hands[0, :, 0], hands[0, :, 1], hands[0, :, 2] = np.linspace(150, 170, 21), np.linspace(150, 200, 21), 0.9
    face = np.zeros((68, 3), np.float32)
    face[:, 0], face[:, 1], face[:, 2] = np.linspace(80, 110, 68), 20, 0.9
    plain = render_human_pose(FramePose(body), H, W)
    full = render_human_pose(FramePose(body, hands, face), H, W)
    changed = (plain != full).any(axis=2)
    assert changed[195:205, 165:175].any()  # the left hand's last joints
    assert (full[20, 80:111] == 255).all(axis=1).any()  # white face dots
    assert not changed[100:140, 60:130].any()  # the rest untouched
    hands[0, :, 2] = 0.0
    face[:, 2] = 0.0
    assert (render_human_pose(FramePose(body, hands, face), H, W) == plain).all()
