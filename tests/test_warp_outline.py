"""The garment's trunk widened to the body's outline (`engines/warp/outline.py`): a loose old top wider than the
hip joints is covered down to the hem, the shoulders stay on the keypoints' fit, and the taper itself is the
stretch it says. The synthetic scene of tests/test_warp_do_no_harm.py, with the person segmentation given as the
scene's truth (the learned model is not what is tested here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_warp_do_no_harm import FRONT, Frames, body_of, room
from tests.test_warp_engine import EXAMPLES, HEIGHT, WIDTH, Quiet, garment_input
from tryon_cli.engines.warp import WarpEngine, outline, shoulders
from tryon_cli.engines.warp import engine as engine_module
from tryon_cli.engines.warp.outline import LEVELS, Taper

OLD_GREEN = np.array([40, 150, 60])
# A loose old top: wider than the shoulders' keypoints and twice as wide as the hip joints (168 and 216) at the hem,
# as a cardigan is; the arms hang away from it.
LOOSE_TOP = np.array([(146, 140), (238, 140), (242, 300), (142, 300)], np.int32)
ARMS_OUT = dict(FRONT, r_elbow=(112, 212), l_elbow=(272, 212), r_wrist=(96, 276), l_wrist=(288, 276))


@pytest.fixture(scope="module")
def tee():
    return garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")


def loose_scene() -> tuple[np.ndarray, np.ndarray]:
    """The room with the loose old top and skin-coloured arms, and the person's silhouette (float32 0/1)."""
    image = room()
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)
    top = np.zeros_like(person)
    cv2.fillConvexPoly(top, LOOSE_TOP, 1)
    arms = np.zeros_like(person)
    for side in "rl":
        joints = [ARMS_OUT[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
        for a, b in zip(joints, joints[1:]):
            cv2.line(arms, a, b, 1, 22)
    image[arms > 0] = (205, 160, 135)
    image[top > 0] = OLD_GREEN
    return image, (person | top | arms).astype(np.float32)


def old_top_left(out: np.ndarray, rows: slice) -> float:
    """The share of the loose top's pixels in `rows` that still show its flat green."""
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillConvexPoly(top, LOOSE_TOP, 1)
    region = top[rows] > 0
    green = np.abs(out[rows].astype(int) - OLD_GREEN).max(axis=2) <= 8
    return float((green & region).sum() / region.sum())


def test_a_loose_old_top_is_covered_to_its_hem(tee, monkeypatch):
    """Fitted to the joints alone, the tee's lower half was about as wide as the hips' keypoints, with the old top
    showing down both sides; widened to the outline, at most a thin rim of it stays. The shoulders stay where the
    keypoints put them: at the shoulder line the tee is no wider than the joints' fit draws it."""
    source, person = loose_scene()
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: person)
    # The shoulders fitted to the joints, as the taper sees them: the loose top rises 6 rows above them, and lifted
    # there (`shoulders.py`, tested on its own) the row under the shoulders is part of the widened taper.
    monkeypatch.setattr(shoulders, "MAX_LIFT", 0.0)
    bodies = [body_of(ARMS_OUT)] * 4
    widened = list(WarpEngine().generate(Frames(source, bodies), tee, Quiet()))[-1]
    monkeypatch.setattr(outline, "MAX_WIDEN", 1.0)  # the joints' fit alone
    joints_only = list(WarpEngine().generate(Frames(source, bodies), tee, Quiet()))[-1]
    lower = slice(230, 290)
    assert old_top_left(joints_only, lower) > 0.35  # measured: 0.43
    assert old_top_left(widened, lower) < 0.15  # measured: 0.12, a rim of a few pixels
    changed = [(out[150] != source[150]).any(axis=1).sum() for out in (joints_only, widened)]
    assert changed[1] <= changed[0] + 4
    # Nothing beyond the person's outline and the margin the garment may reach past it (`dress.OUTLINE_MARGIN`,
    # softened) changes.
    near = cv2.dilate(person.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25)))
    np.testing.assert_array_equal(widened[near == 0], source[near == 0])


def test_the_taper_stretches_each_side_of_the_spine_by_its_ratio_below_the_shoulders():
    """A vertical spine from (100, 50), 200 px to the hips. Its -across side (the image's right: across is (-1, 0))
    is widened 1.5x at the lowest level and 1.2x at the others, its +across side 1.3x and 1.1x."""
    taper = Taper(np.array([100.0, 50.0]), np.array([0.0, 1.0]), 200.0, np.array([[1.2, 1.2, 1.5], [1.1, 1.1, 1.3]]))
    # At the shoulder line nothing moves; below the lowest level a drawn point at distance d from the spine shows the
    # photo point at d / 1.5 on the right, d / 1.3 on the left.
    x, y = taper.source(np.array([130.0, 70.0]), np.array([50.0, 50.0]))
    np.testing.assert_allclose((x, y), ([130, 70], [50, 50]))
    low = 50 + 200 * (LEVELS[-1] + 0.1)
    x, y = taper.source(np.array([130.0, 70.0, 100.0]), np.array([low, low, low]))
    np.testing.assert_allclose(x, [100 + 30 / 1.5, 100 - 30 / 1.3, 100])
    np.testing.assert_allclose(y, low)
    # Halfway to the first level, half its widening.
    mid = 50 + 200 * LEVELS[0] / 2
    x, _ = taper.source(np.array([130.0, 70.0]), np.array([mid, mid]))
    np.testing.assert_allclose(x, [100 + 30 / 1.1, 100 - 30 / 1.05])
    # The fit check's taper: both sides as the narrower one.
    x, _ = taper.narrower().source(np.array([130.0, 70.0]), np.array([low, low]))
    np.testing.assert_allclose(x, [100 + 30 / 1.3, 100 - 30 / 1.3])


def test_a_frame_that_shows_no_body_at_the_spine_leaves_the_widening_as_it_was():
    """A garment torso 60 px across on a body 84 px across (1.4 times it): the widening follows the body. A frame
    whose person has a hole along the spine (a forearm across it, a cream cardigan the segmentation loses on a white
    wall) measures nothing there; taken as no widening, it narrowed the tee for a few frames (T1)."""
    arms_away = dict(r_elbow=(90, 212), l_elbow=(294, 212), r_wrist=(70, 276), l_wrist=(314, 276))
    body = body_of(dict(FRONT, r_shoulder=(162, 146), l_shoulder=(222, 146), **arms_away))
    torso = np.zeros((HEIGHT, WIDTH), np.float32)
    torso[146:300, 162:223] = 1.0  # the garment's torso, in photo pixels drawn 1:1 (`fitted` is the identity)
    width = outline.TrunkWidth(torso, body)
    fitted = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    person = np.zeros((HEIGHT, WIDTH), bool)
    person[140:320, 150:235] = True
    mask = np.ones((HEIGHT, WIDTH), bool)
    for _ in range(3):
        width(fitted, body, person, mask)
    measured = width.ratios.copy()
    np.testing.assert_allclose(measured, 1.4, atol=0.05)
    holed = person.copy()
    holed[:, 188:197] = False  # along the spine (x = 192), at every level
    width(fitted, body, holed, mask)
    np.testing.assert_array_equal(width.ratios, measured)


def test_an_arm_over_the_spine_is_measured_past_in_a_side_view_only():
    """A body seen from the side (shoulders 24 px apart on a 150 px trunk): the far arm's keypoints lie across the
    trunk, over the spine at every level (gallery T3 frames 1-19, T5, C2). Its capsule stopped the measurement where
    it began, so nothing was measured and the garment stayed as narrow as the joints' fit drew it. Measured past the
    arm to the body's outline, it is widened as the body is wide. Seen from the front (shoulders 60 px apart), the
    same arm is a forearm across the trunk, and nothing is measured past it (gallery T6 frames 89-90)."""
    arms = dict(r_elbow=(90, 212), r_wrist=(70, 276), l_elbow=(196, 212), l_wrist=(192, 276))
    torso = np.zeros((HEIGHT, WIDTH), np.float32)
    torso[146:300, 162:223] = 1.0  # the garment's torso, 60 px across, drawn 1:1 (`fitted` is the identity)
    fitted = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    person = np.zeros((HEIGHT, WIDTH), bool)
    person[140:320, 150:235] = True  # 84 px across: 1.4 times the garment
    measured = []
    for apart in (
        dict(r_shoulder=(180, 146), l_shoulder=(204, 146)),
        dict(r_shoulder=(162, 146), l_shoulder=(222, 146)),
    ):
        body = body_of(dict(FRONT, **apart, **arms))
        width = outline.TrunkWidth(torso, body)
        for _ in range(3):
            width(fitted, body, person, np.ones((HEIGHT, WIDTH), bool))
        measured.append(width.ratios)
    side, front = measured
    np.testing.assert_allclose(side, 1.4, atol=0.05)
    assert np.isnan(front).all(), front


def test_each_side_is_widened_to_the_body_on_its_own(tee, monkeypatch):
    """A body seen at three quarters: the old top reaches 34 px left of the spine (x = 192) and 70 px right of it at
    the hem. Widened on both sides by the narrower side's ratio, the tee stopped short on the near side with the old
    top showing between it and the arm (T1's strip of cardigan); each side widened on its own, it reaches further
    out on the near side."""
    source = room()
    top_polygon = np.array([(158, 140), (238, 140), (262, 300), (158, 300)], np.int32)
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillConvexPoly(top, top_polygon, 1)
    source[top > 0] = OLD_GREEN
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)
    for side in "rl":
        joints = [ARMS_OUT[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
        for a, b in zip(joints, joints[1:]):
            cv2.line(person, a, b, 1, 22)
    person = (person | top).astype(np.float32)
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: person)
    monkeypatch.setattr(shoulders, "MAX_LIFT", 0.0)
    bodies = [body_of(ARMS_OUT)] * 4
    per_side = list(WarpEngine().generate(Frames(source, bodies), tee, Quiet()))[-1]
    each_side = outline.Taper.source
    monkeypatch.setattr(outline.Taper, "source", lambda taper, x, y: each_side(taper.narrower(), x, y))
    narrower = list(WarpEngine().generate(Frames(source, bodies), tee, Quiet()))[-1]
    # At the hem's height the tee reaches further out on the near side, the far side's edge stays where it was, and
    # less of the old top shows on the near side (measured: 0.46 of it green with the narrower ratio, 0.33).
    edges = []
    for out in (narrower, per_side):
        changed = np.nonzero(np.abs(out[280].astype(int) - source[280]).max(axis=1) > 16)[0]
        edges.append((changed.min(), changed.max()))
    assert abs(int(edges[1][0]) - int(edges[0][0])) <= 1 and edges[1][1] >= edges[0][1] + 5, edges
    near = (slice(230, 290), slice(200, 262))
    green = [float((np.abs(out[near].astype(int) - OLD_GREEN).max(axis=2) <= 8).mean()) for out in (narrower, per_side)]
    assert green[1] < 0.8 * green[0], green
