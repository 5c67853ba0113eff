"""The lower garment under a top: the skirt a top's region reaches into is kept (never repainted), found by its
colour continuous with the thighs; a skirt of the top's colour keeps the pose-only mask, and the top's own pixels,
its sleeves included, are never taken."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_preprocess_masks import STANDING as FRONT
from tests.test_preprocess_masks import H, W
from tryon_cli.preprocess import person_segmentation
from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose, PoseSequence
from tryon_cli.preprocess.lower_garment import LowerGarment, lower_garment
from tryon_cli.preprocess.masks import agnostic_masks, frame_mask

SKIN, NAVY, RED, GREY = (224, 172, 140), (30, 40, 110), (200, 30, 40), (200, 200, 200)
HEM = 128  # the old top ends here, above the hips (y 150): a cropped top over a high-waisted skirt
SKIRT = np.array([(98, HEM), (142, HEM), (160, 240), (80, 240)], np.int32)  # waist to below the knees (y 210)
WIDE_SKIRT = np.array([(84, HEM), (156, HEM), (170, 240), (70, 240)], np.int32)  # as wide as the arms hang apart
NOISE = 3.0  # a camera's noise, in levels: two garments of one colour are two Gaussians that differ a little


def _pose() -> FramePose:
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in FRONT.items():
        body[BODY_INDEX[name]] = (x, y, 0.9)
    return FramePose(body)


def _figure(top=NAVY, skirt=RED, sleeves=None, arm_width=18, shape=SKIRT) -> tuple[np.ndarray, np.ndarray]:
    """A person facing the camera: a `top` (its arms `arm_width` pixels wide, in `sleeves`, else the top's colour)
    ending at `HEM`, a `skirt` of `shape` from there to below the knees, skin on the head, hands and shins, with a
    camera's noise; and the silhouette a person segmentation gives."""
    frame = np.full((H, W, 3), GREY, np.uint8)
    cv2.fillConvexPoly(frame, shape, skirt)
    cv2.fillConvexPoly(frame, np.array([(90, 70), (150, 70), (144, HEM), (96, HEM)], np.int32), top)
    for side in ("r", "l"):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist")):
            cv2.line(frame, FRONT[f"{side}_{a}"], FRONT[f"{side}_{b}"], sleeves or top, arm_width)
        cv2.circle(frame, FRONT[f"{side}_wrist"], 8, SKIN, -1)
        cv2.line(frame, (FRONT[f"{side}_knee"][0], 240), FRONT[f"{side}_ankle"], SKIN, 14)
    cv2.ellipse(frame, (120, 38), (15, 22), 0, 0, 360, SKIN, -1)
    silhouette = np.any(frame != GREY, axis=-1).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, NOISE, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8), silhouette


def _pixels(frame: np.ndarray, colour) -> np.ndarray:
    """Where `frame` shows `colour` (within the noise)."""
    return np.abs(frame.astype(int) - colour).max(axis=-1) <= 5 * NOISE


def test_the_skirt_a_tops_region_reaches_into_is_kept_and_the_top_is_not():
    frame, silhouette = _figure()
    region = frame_mask(_pose(), "upper", H, W)
    kept = lower_garment(frame, _pose(), silhouette, region)
    waistband = region & _pixels(frame, RED)  # the skirt where the pose-only mask would repaint it
    assert waistband.sum() > 1000
    # All of it but a sliver along the old top's edge, which goes to the top: its hem must not show.
    near_top = cv2.dilate(_pixels(frame, NAVY).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (kept & waistband).sum() > 0.9 * waistband.sum()
    assert (kept | ~waistband | near_top).all()
    assert not (kept & _pixels(frame, NAVY)).any()  # the old top stays in the mask, to its last row
    assert not (kept & ~region).any()
    # The edge goes to the top: no kept pixel touches it (a camera blends the two along the hem).
    touching_top = cv2.dilate(_pixels(frame, NAVY).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert not (kept & touching_top).any()


def test_buttons_on_the_waistband_are_the_skirts():
    """What the skirt encloses (buttons down a placket, a buckle) is kept with it: left in the mask, each would be
    drawn over as a spot of the new top."""
    frame, silhouette = _figure()
    buttons = np.zeros((H, W), np.uint8)
    for y in (HEM + 8, HEM + 18, HEM + 28):
        cv2.circle(buttons, (120, y), 3, 1, -1)
    buttons = buttons > 0
    frame[buttons] = (230, 230, 235)
    region = frame_mask(_pose(), "upper", H, W)
    kept = lower_garment(frame, _pose(), silhouette, region)
    assert (buttons & region).sum() > 60
    assert (kept | ~(buttons & region)).all()


def test_a_column_of_buttons_up_to_the_old_tops_hem_is_the_skirts():
    """A placket whose top button touches the old top's hem is a notch in the skirt's top edge, not a hole in it
    (gallery C9's high-waisted jeans): it is kept with the skirt all the same. The rest of the hem still goes to the
    top (no skirt pixel kept beside the buttons that is not kept without them)."""
    frame, silhouette = _figure()
    buttons = np.zeros((H, W), np.uint8)
    for y in (HEM + 3, HEM + 9, HEM + 15, HEM + 21):
        cv2.circle(buttons, (120, y), 3, 1, -1)
    buttons = buttons > 0
    plain = lower_garment(frame, _pose(), silhouette, frame_mask(_pose(), "upper", H, W))
    frame[buttons] = (230, 230, 235)
    region = frame_mask(_pose(), "upper", H, W)
    kept = lower_garment(frame, _pose(), silhouette, region)
    # The buttons but those within the edge the old top's hem takes (`_lower_in`: the opening's radius, 3 px here).
    below_hem = buttons & region
    below_hem[: HEM + 4] = False
    assert below_hem.sum() > 60
    assert (kept | ~below_hem).all()
    assert not (kept & ~plain & ~cv2.dilate(buttons.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)).any()


def test_a_skirt_of_the_tops_colour_keeps_the_pose_only_mask():
    """A navy top over a navy skirt (or a dress) cannot be told apart: keeping top-coloured pixels would leave the
    old top showing."""
    frame, silhouette = _figure(skirt=NAVY)
    region = frame_mask(_pose(), "upper", H, W)
    assert not lower_garment(frame, _pose(), silhouette, region).any()


def test_sleeves_of_the_skirts_colour_hanging_beside_it_are_not_taken():
    """Arms beside the hips are the top's sleeves, whatever their colour: red sleeves over a red skirt stay in the
    mask (ViViD upper1's cream sleeves beside her white skirt were taken for it). The sleeves 12 px wide, 0.15 trunk
    lengths, as a slim arm's."""
    frame, silhouette = _figure(sleeves=RED, arm_width=12, shape=WIDE_SKIRT)
    region = frame_mask(_pose(), "upper", H, W)
    kept = lower_garment(frame, _pose(), silhouette, region)
    sleeves = np.zeros((H, W), np.uint8)
    for side in ("r", "l"):
        cv2.line(sleeves, FRONT[f"{side}_elbow"], FRONT[f"{side}_wrist"], 1, 12)
    sleeves = (sleeves > 0) & _pixels(frame, RED) & region
    assert sleeves.sum() > 500
    assert not (kept & sleeves).any()
    assert (kept & region & _pixels(frame, RED) & ~sleeves).sum() > 1000  # the skirt itself is still kept


def test_a_lower_garment_found_in_one_frame_only_is_not_kept():
    """In a video the lower garment persists: found in a single frame between frames where the top and the skirt
    could not be told apart, it is not kept (a new top would jump to the waist for one frame); the first frame, or a
    photo, is taken as found."""
    apart, silhouette = _figure()
    alike, _ = _figure(skirt=NAVY)
    region = frame_mask(_pose(), "upper", H, W)
    found = lower_garment(apart, _pose(), silhouette, region)
    assert found.sum() > 1000
    video = LowerGarment()
    assert np.array_equal(video(apart, _pose(), silhouette, region), found)  # the first frame
    assert not video(alike, _pose(), silhouette, region).any()
    assert not video(apart, _pose(), silhouette, region).any()  # found in this frame only
    assert np.array_equal(video(apart, _pose(), silhouette, region), found)  # and in the frame before


def test_without_knees_nothing_is_kept():
    """The lower garment's colour is learned on the thighs: a frame cut at the hips (a close-up) keeps the mask."""
    frame, silhouette = _figure()
    pose = _pose()
    for name in ("r_knee", "l_knee", "r_ankle", "l_ankle"):
        pose.body[BODY_INDEX[name], 2] = 0.0
    assert not lower_garment(frame, pose, silhouette, frame_mask(pose, "upper", H, W)).any()


# The same person turned to the side (shoulders 8 px apart, a tenth of the trunk): the near (right) arm hangs at her
# back, the far arm's keypoints lie across the front of the trunk, behind the body, unseen and less sure.
SIDE = {
    **FRONT,
    "r_shoulder": (116, 72),
    "l_shoulder": (124, 72),
    "r_elbow": (110, 110),
    "l_elbow": (128, 108),
    "r_wrist": (112, 145),
    "l_wrist": (132, 140),
    "r_hip": (117, 150),
    "l_hip": (123, 150),
    "r_knee": (118, 210),
    "l_knee": (122, 210),
    "r_ankle": (118, 270),
    "l_ankle": (122, 270),
}
FAR_ARM, FAR_ARM_CONFIDENCE = ("l_shoulder", "l_elbow", "l_wrist"), 0.5
LOST_BELOW = 168  # the segmentation loses the skirt from the old top's hem down to here, above the thighs' samples


def test_seen_from_side_the_skirt_is_kept_where_the_segmentation_loses_it_and_the_far_arm_lies_over_it():
    """Seen from the side, the hips' core is the person whatever the segmentation says, and the far arm's keypoints,
    across the trunk, do not cut the skirt (the shipped example's first frames: a white skirt lost on a white wall,
    the new tee drawn over its top as a long strip). The old top and the near arm's sleeve, here of the skirt's
    colour below the elbow, are still never taken."""
    body = np.zeros((18, 3), np.float32)
    for name, (x, y) in SIDE.items():
        body[BODY_INDEX[name]] = (x, y, FAR_ARM_CONFIDENCE if name in FAR_ARM else 0.9)
    pose = FramePose(body)
    frame = np.full((H, W, 3), GREY, np.uint8)
    cv2.fillConvexPoly(frame, np.array([(102, HEM), (138, HEM), (142, 240), (98, 240)], np.int32), RED)
    cv2.fillConvexPoly(frame, np.array([(102, 70), (138, 70), (138, HEM), (102, HEM)], np.int32), NAVY)
    cv2.line(frame, SIDE["r_shoulder"], SIDE["r_elbow"], NAVY, 12)
    sleeve = np.zeros((H, W), np.uint8)
    cv2.line(sleeve, SIDE["r_elbow"], SIDE["r_wrist"], 1, 12)
    frame[sleeve > 0] = RED
    cv2.circle(frame, SIDE["r_wrist"], 7, SKIN, -1)
    cv2.ellipse(frame, (124, 38), (13, 22), 0, 0, 360, SKIN, -1)
    sleeve = (sleeve > 0) & np.all(frame == RED, axis=-1)
    silhouette = np.any(frame != GREY, axis=-1).astype(np.float32)
    silhouette[HEM:LOST_BELOW] = 0.0
    frame = np.clip(frame + np.random.default_rng(0).normal(0, NOISE, frame.shape), 0, 255).astype(np.uint8)
    region = frame_mask(pose, "upper", H, W)
    kept = lower_garment(frame, pose, silhouette, region)
    # The skirt where the segmentation lost it, but for its edge along the old top, which goes to the top (a camera
    # blends the two), and the near sleeve with the skirt beside it.
    beside = cv2.dilate((sleeve | _pixels(frame, NAVY)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    lost = region & _pixels(frame, RED) & ~beside
    lost[LOST_BELOW:] = False
    assert lost.sum() > 300 and (sleeve & region).sum() > 300
    assert (kept & lost).sum() > 0.9 * lost.sum()
    assert not (kept & _pixels(frame, NAVY)).any()
    assert not (kept & sleeve).any()


@pytest.mark.parametrize("category", ["upper", "lower", "dress"])
def test_agnostic_masks_keep_the_skirt_out_of_a_tops_mask_only(monkeypatch, category):
    """A top's mask made with the frames leaves the skirt out; a lower garment's or a dress's mask replaces it."""
    frame, silhouette = _figure()

    class Silhouette:
        def __call__(self, image):
            return silhouette

    monkeypatch.setattr(person_segmentation, "PersonSegmentation", Silhouette)
    poses = PoseSequence(body=np.stack([_pose().body] * 3), height=H, width=W, backend="test")
    pose_only = list(agnostic_masks(poses, category))[1]
    with_frames = list(agnostic_masks(poses, category, frames=[frame] * 3))[1]
    waistband = pose_only & _pixels(frame, RED)
    assert waistband.sum() > 1000
    taken = (with_frames & waistband).sum() / waistband.sum()
    assert taken < 0.1 if category == "upper" else taken == 1.0
