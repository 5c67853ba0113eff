"""The garment's shoulders on top of the person's, as high as the old garment reaches (`engines/warp/shoulders.py`,
`body.below_neck`). Synthetic scenes where the truth is known: the room and the person of `test_warp_do_no_harm`
(trunk 150 px, shoulder keypoints on row 146), an old top whose shoulders rise a known height above the joints."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_warp_do_no_harm import FRONT, Frames, body_of, room
from tests.test_warp_engine import EXAMPLES, HEIGHT, WIDTH, Quiet, garment_input
from tryon_cli.engines.warp import WarpEngine, shoulders
from tryon_cli.engines.warp import engine as engine_module
from tryon_cli.engines.warp.body import ABOVE_NECK, below_neck
from tryon_cli.engines.warp.shoulders import MAX_LIFT, ShoulderLift

OLD_GREEN = (40, 150, 60)
TRUNK = 150.0  # FRONT's neck to mid-hip, in pixels
SHOULDER_ROW = 146  # FRONT's shoulder keypoints' row
RISE = 18  # how far the old top's shoulders rise above the joints: 0.12 trunk lengths, a shoulder's thickness


def high_shouldered(rise: int = RISE) -> tuple[np.ndarray, np.ndarray]:
    """The room with an old green top whose shoulders are `rise` pixels above the shoulder keypoints (its neckline
    lower, at the neck keypoint's row), and a person segmentation that also takes in a band of the room 30 pixels
    above the shoulders (T4's segmentation ran wide of her shoulder): float32 0/1."""
    image = room()
    its_top = (image == OLD_GREEN).all(axis=2)  # the room's own old top, replaced by the room from its left side
    image[its_top] = np.roll(image, 150, axis=1)[its_top]
    top_row = SHOULDER_ROW - rise
    outline = np.array(
        [(140, top_row), (176, top_row), (192, 140), (208, top_row), (244, top_row), (222, 300), (162, 300)], np.int32
    )
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(top, [outline], 1)
    image[top > 0] = OLD_GREEN
    person = top.copy()
    cv2.circle(person, (192, 95), 28, 1, -1)
    person[SHOULDER_ROW - 30 : SHOULDER_ROW, 130:254] = 1
    for side in "rl":
        joints = [FRONT[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
        for a, b in zip(joints, joints[1:]):
            cv2.line(person, a, b, 1, 24)
    return image, person.astype(np.float32)


def lifts_after(image: np.ndarray, person: np.ndarray, points: dict, frames: int = 1) -> np.ndarray:
    lift = ShoulderLift()
    body = body_of(points)
    mask = np.ones((HEIGHT, WIDTH), bool)
    for _ in range(frames):
        lift(image, body, person > 0.5, mask)
    return lift.lifts


def test_the_lift_is_how_far_the_old_garment_rises_above_the_shoulders():
    """Measured on the old top's colour, not on the segmentation (which runs 30 pixels above the shoulders here)."""
    image, person = high_shouldered()
    np.testing.assert_allclose(lifts_after(image, person, FRONT), RISE / TRUNK, atol=1.5 / TRUNK)
    flat, person = high_shouldered(rise=0)
    np.testing.assert_allclose(lifts_after(flat, person, FRONT), 0.0, atol=1.5 / TRUNK)


def test_a_collar_or_hood_above_the_shoulders_lifts_them_no_further_than_max_lift():
    image, person = high_shouldered(rise=45)  # 0.3 trunk lengths: a raised hood, not a shoulder
    np.testing.assert_allclose(lifts_after(image, person, FRONT), MAX_LIFT, atol=1.0 / TRUNK)


def test_a_raised_arm_leaves_its_side_unmeasured():
    """Over a raised arm the old sleeve continues the shoulder upward: that side keeps what it had (nothing yet)."""
    image, person = high_shouldered()
    raised = dict(FRONT, r_elbow=(110, 110), r_wrist=(90, 60))
    lifts = lifts_after(image, person, raised)
    assert np.isnan(lifts[0])
    assert lifts[1] == pytest.approx(RISE / TRUNK, abs=1.5 / TRUNK)


def test_the_lift_follows_a_running_mean():
    image, person = high_shouldered()
    lift = ShoulderLift()
    body, mask = body_of(FRONT), np.ones((HEIGHT, WIDTH), bool)
    lift(image, body, person > 0.5, mask)
    flat, _ = high_shouldered(rise=0)
    lift(flat, body, person > 0.5, mask)  # the old top's shoulders drop to the joints in one frame
    expected = (1 - shoulders.LIFT_RATE) * RISE / TRUNK
    np.testing.assert_allclose(lift.lifts, expected, atol=1.5 / TRUNK)


def test_the_collar_line_rises_to_the_shoulders_but_never_over_the_neck():
    body = body_of(FRONT)
    lifted = below_neck(body, (HEIGHT, WIDTH), np.array([0.12, 0.12]))
    plain = below_neck(body, (HEIGHT, WIDTH))
    collar = int(np.ceil(FRONT["neck"][1] - ABOVE_NECK * TRUNK))  # the first row the torso may take over the neck
    # Over the neck (the spine and 10 pixels either side) the line is where it was, lifted or not.
    for x in (182, 192, 202):
        assert lifted[collar - 1, x] == plain[collar - 1, x] == 0
        assert lifted[collar + 1, x] == plain[collar + 1, x] == 1
    # Beyond the inset shoulders (x 160 and 224) the torso may reach the old garment's top, 0.12 trunk lengths (18
    # rows) above the joints' row, where it stopped at the collar line before.
    for x in (150, 234):
        assert plain[collar - 1, x] == 0
        assert lifted[SHOULDER_ROW - 17, x] == 1
        assert lifted[SHOULDER_ROW - 19, x] == 0
    # One side's lift raises that side only.
    one = below_neck(body, (HEIGHT, WIDTH), np.array([0.12, 0.0]))
    assert one[SHOULDER_ROW - 17, 150] == 1 and one[SHOULDER_ROW - 17, 234] == 0


@pytest.fixture(scope="module")
def tee():
    return garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")


def old_green_above_the_joints(out: np.ndarray) -> int:
    """Pixels of the old top's flat green between its shoulders' top and the joints' row, beside the neck."""
    band = out[SHOULDER_ROW - RISE : SHOULDER_ROW].astype(int)
    green = np.abs(band - OLD_GREEN).max(axis=2) <= 8
    green[:, 192 - 20 : 192 + 20] = False
    return int(green.sum())


def test_the_new_top_covers_the_old_one_above_the_shoulder_joints(tee, monkeypatch):
    """Fitted to the joints, the tee's shoulder line is the joints' row and the old top shows above it; fitted to
    the measured tops, most of that band is the new tee. Over the neck nothing above the collar line changes."""
    image, person = high_shouldered()
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda frame: person)
    bodies = [body_of(FRONT)] * 4
    lifted = list(WarpEngine().generate(Frames(image, bodies), tee, Quiet()))[-1]
    monkeypatch.setattr(shoulders, "MAX_LIFT", 0.0)
    joints = list(WarpEngine().generate(Frames(image, bodies), tee, Quiet()))[-1]
    total = old_green_above_the_joints(image)
    before, after = old_green_above_the_joints(joints), old_green_above_the_joints(lifted)
    assert before > 0.7 * total
    assert after < 0.4 * before
    collar = int(np.ceil(FRONT["neck"][1] - ABOVE_NECK * TRUNK))
    neck = (slice(0, collar - 1), slice(192 - 10, 192 + 11))
    np.testing.assert_array_equal(lifted[neck], image[neck])
