"""A hand bent at the wrist: without hand points (the YOLO backend) the pose places a hand only along its forearm;
given the frame, the rest of the hand (its skin, connected to the wrist, beyond it) stays out of the mask, and
neither a forearm nor a skin-toned garment is taken for a hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_preprocess_masks import STANDING, H, W
from tryon_cli.preprocess import person_segmentation
from tryon_cli.preprocess.hands import (
    HAND_SKIN_REACH,
    bent_hands,
    face_skin,
    garment_near_hands,
    hand_regions,
    hand_skin,
    skin_test,
)
from tryon_cli.preprocess.head import head_region
from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose, PoseSequence
from tryon_cli.preprocess.masks import agnostic_masks, cover_region, frame_mask

SKIN, NAVY, GREY = (224, 172, 140), (30, 40, 110), (200, 200, 200)
# The right hand turned in at the wrist (82, 145), its forearm hanging straight down: a hand's width (12 px, 0.15
# trunk lengths) below the wrist, its length (20 px) across the hip towards the body's middle, outside the capsule
# that continues the forearm downwards.
BENT_HAND = ((84, 147), (104, 158))


def _pose() -> FramePose:
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in STANDING.items():
        body[BODY_INDEX[name]] = (x, y, 0.9)
    return FramePose(body)


def _figure(top=NAVY, forearms=NAVY, loose=False) -> tuple[np.ndarray, np.ndarray]:
    """A person in a long `top` (`loose`: wider than the arms) whose forearms are `forearms` (a sleeve, or bare
    skin), the right hand bent in over the hip; and the person's silhouette (what a person segmentation gives)."""
    frame = np.full((H, W, 3), GREY, np.uint8)
    widen = 25 if loose else 0
    body = [(90 - widen, 70), (150 + widen, 70), (162 + widen, 185), (78 - widen, 185)]
    cv2.fillConvexPoly(frame, np.array(body, np.int32), top)
    for side in ("r", "l"):
        cv2.line(frame, STANDING[f"{side}_shoulder"], STANDING[f"{side}_elbow"], top, 18)
        cv2.line(frame, STANDING[f"{side}_elbow"], STANDING[f"{side}_wrist"], forearms, 12)
    cv2.rectangle(frame, *BENT_HAND, SKIN, -1)
    cv2.circle(frame, STANDING["l_wrist"], 5, SKIN, -1)  # the left hand hangs along its forearm
    cv2.rectangle(frame, (154, 145), (162, 168), SKIN, -1)
    return frame, np.any(frame != GREY, axis=-1).astype(np.float32)


def _hand() -> np.ndarray:
    hand = np.zeros((H, W), bool)
    (x0, y0), (x1, y1) = BENT_HAND
    hand[y0 : y1 + 1, x0 : x1 + 1] = True
    return hand


def test_a_hand_bent_at_the_wrist_stays_out_of_the_mask(monkeypatch):
    frame, silhouette = _figure()
    monkeypatch.setattr(person_segmentation, "PersonSegmentation", lambda: lambda image: silhouette)
    poses = PoseSequence(body=_pose().body[None], height=H, width=W, backend="test")
    pose_only = frame_mask(_pose(), "upper", H, W)
    leaking = pose_only & _hand() & ~hand_regions(_pose(), H, W)
    assert leaking.sum() > 0.5 * _hand().sum()  # the forearm's capsule misses most of the bent hand
    (mask,) = agnostic_masks(poses, "upper", frames=[frame])
    # At most the heel of the hand beside the wrist, where the hand cannot be told from its forearm, is repainted.
    assert (mask & _hand()).sum() < 0.05 * _hand().sum()
    top = pose_only & np.all(frame == NAVY, axis=-1)
    assert (mask & top).sum() > 0.99 * top.sum()  # the top is still repainted


def test_a_bare_forearm_and_a_skin_toned_top_are_not_taken_for_a_hand():
    """Skin back up the forearm (behind the wrist, or on the other forearm) is the arm, not the hand; a patch of
    skin colour larger than a hand joined to the wrist is a garment (or a bare leg): only the capsule is kept
    there."""
    frame, silhouette = _figure(forearms=SKIN)
    found = bent_hands(frame, _pose(), silhouette)
    assert found[_hand()].mean() > 0.85
    forearm = np.zeros((H, W), np.uint8)
    for side in ("r", "l"):  # up to the wrist: the line's round end stops short of the point
        (x, y) = STANDING[f"{side}_wrist"]
        cv2.line(forearm, STANDING[f"{side}_elbow"], (x, y - 7), 1, 12)
    assert not (found & (forearm > 0)).any()
    hidden = _pose()  # the left arm placed behind the body (as yolo does seen from the side), its wrist up the right
    hidden.body[BODY_INDEX["l_elbow"]] = (100, 95, 0.9)  # forearm: the right forearm lies beyond that wrist
    hidden.body[BODY_INDEX["l_wrist"]] = (92, 120, 0.9)
    assert not (bent_hands(frame, hidden, silhouette) & (forearm > 0)).any()
    frame, silhouette = _figure(top=SKIN, loose=True)
    found = bent_hands(frame, _pose(), silhouette)
    assert not found[_hand()].any() and not found[150:185, 60:180].any()


WARM_WHITE = (236, 222, 210)  # a white top in warm light: inside the YCrCb skin box (Cr 136, Cb 120)


def test_a_bent_hand_on_a_warm_white_top_is_found_and_the_top_beside_it_is_not():
    """A warm white top lies inside the skin box: joined to the hand, the top within a hand's reach of the wrist was
    taken for the hand (gallery T5: two hand-sized holes of the old white tee in the new hoodie). Told apart by the
    garment's colour, the hand is found, and of the top only its rim (`hands.RIM`, ~1 px here) comes with it."""
    frame, silhouette = _figure(top=WARM_WHITE)
    cv2.circle(frame, (120, 42), 14, SKIN, -1)  # the face, whose colour tells skin from the top
    silhouette = np.any(frame != GREY, axis=-1).astype(np.float32)
    pose = _pose()
    beside = cv2.dilate(np.all(frame == SKIN, axis=-1).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # the hands
    top = np.all(frame == WARM_WHITE, axis=-1)
    assert (bent_hands(frame, pose, silhouette) & top & ~beside).sum() > 100  # the skin box alone takes the top
    region = cover_region(pose.body, "upper", H, W) > 0
    hands, head = hand_regions(pose, H, W), head_region(pose, H, W)
    garment = garment_near_hands(frame, pose, silhouette, region, hands, head, skin_test(frame, pose))
    found = bent_hands(frame, pose, silhouette, garment)
    assert found[_hand()].mean() > 0.85
    assert not (found & top & ~beside).any()


@pytest.mark.parametrize("top", [NAVY, WARM_WHITE])
def test_the_garment_around_a_hand_is_repainted_and_the_hand_and_what_it_holds_are_not(top, monkeypatch):
    """A hand's region (the capsule along its forearm) is a guess of where the hand is: on a loose top most of it is
    the top, which must be repainted (else the old top shows as a hand-shaped patch); the hand's skin and a red
    strap held in the hand stay the source's. A warm white top passes the skin box: the face's skin tells it from
    the hand."""
    frame, silhouette = _figure(top=top, loose=True)
    cv2.circle(frame, (120, 42), 14, SKIN, -1)  # the face
    strap = np.zeros((H, W), np.uint8)
    cv2.line(strap, (164, 152), (164, 164), 1, 2)  # held along the left hand, inside its capsule
    frame[strap > 0] = (200, 30, 40)
    silhouette = np.any(frame != GREY, axis=-1).astype(np.float32)
    monkeypatch.setattr(person_segmentation, "PersonSegmentation", lambda: lambda image: silhouette)
    poses = PoseSequence(body=_pose().body[None], height=H, width=W, backend="test")
    (mask,) = agnostic_masks(poses, "upper", frames=[frame])
    capsule = hand_regions(_pose(), H, W) & (cover_region(_pose().body, "upper", H, W) > 0)
    # The top, but for the rim around the hand's skin that a bent hand takes with it (`hands.RIM`, ~1 px here).
    rim = cv2.dilate(np.all(frame == SKIN, axis=-1).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    garment = capsule & np.all(frame == top, axis=-1) & ~rim
    assert garment.sum() > 100  # the capsules hold much of the top
    assert (mask & garment).sum() > 0.95 * garment.sum()
    assert not (mask & capsule & np.all(frame == SKIN, axis=-1)).any()
    assert not (mask & (strap > 0)).any()


@pytest.mark.parametrize("top", [NAVY, WARM_WHITE])
def test_the_skin_past_a_hands_region_is_the_hand_within_reach_but_not_the_forearm_the_top_or_what_lies_farther(top):
    """Hand points lag a moving hand: the region they give ends short of it (gallery T4 frame 76: a fingertip and the
    heel of a hand holding a scarf were drawn over). The skin joined to the region within `HAND_SKIN_REACH` past its
    edge is the hand; the bare forearm behind the wrist (a long sleeve is drawn there), the top (a warm white one is
    in the skin box: the garment's colour tells it apart), a light print on the top beside the hand (in the skin box,
    far from the face's colour) and skin-coloured pixels farther away are not."""
    frame, _ = _figure(top=top, forearms=SKIN)
    cv2.circle(frame, (120, 42), 14, SKIN, -1)  # the face, whose colour tells skin from the top
    (x0, y0), (x1, y1) = BENT_HAND
    cv2.rectangle(frame, (x1, 150), (x1 + 30, 154), SKIN, -1)  # a skin-toned strap held on from the fingertips
    print_ = np.zeros((H, W), bool)
    print_[y1 + 1 : y1 + 5, x0 + 8 : x1 + 1] = True  # a pink print on the top, just below the hand
    frame[print_] = (235, 200, 200)
    silhouette = np.any(frame != GREY, axis=-1).astype(np.float32)
    pose, hand = _pose(), _hand()
    reach = int(round(HAND_SKIN_REACH * 80))  # the trunk: 80 px
    seeds = hand.copy()
    seeds[:, x1 - reach + 2 :] = False  # the region ends short of the fingertips, within reach of them
    region = cover_region(pose.body, "upper", H, W) > 0
    hands, head = hand_regions(pose, H, W), head_region(pose, H, W)
    garment = garment_near_hands(frame, pose, silhouette, region, hands, head, skin_test(frame, pose))
    anything = lambda rgb: np.ones(rgb.shape[:2], bool)  # noqa: E731
    assert hand_skin(frame, pose, silhouette, seeds, anything)[print_].mean() > 0.5  # the skin box alone takes it
    # The garment's colour keeps the top out whatever the skin test says (a shaded cream top straddles the face's).
    assert not (hand_skin(frame, pose, silhouette, seeds, anything, garment) & np.all(frame == top, axis=-1)).any()
    found = hand_skin(frame, pose, silhouette, seeds, face_skin(frame, pose), garment)
    assert found[hand & ~seeds].all()
    assert not found[print_].any()
    assert not (found & seeds).any()
    assert not (found & np.all(frame == top, axis=-1)).any()
    assert not found[:, x1 + reach :].any()  # the strap beyond the reach
    forearm = np.zeros((H, W), np.uint8)
    for side in ("r", "l"):  # up to the wrist: the line's round end stops short of the point
        (x, y) = STANDING[f"{side}_wrist"]
        cv2.line(forearm, STANDING[f"{side}_elbow"], (x, y - 7), 1, 12)
    assert not (found & (forearm > 0)).any()
