"""`engines/warp/motion.py`: part maps carried along the source's optical flow and pulled toward the keypoint fit;
on a synthetic textured scene moving by a known translation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_cli.engines.warp import motion
from tryon_cli.engines.warp.motion import CropMotion, KeypointTracker, MotionTracker, part_samples
from tryon_cli.preprocess.keypoints import BODY_INDEX

SHAPE = (256, 192)
STEP = np.array([2.5, 1.5])  # the scene's motion per frame, pixels (x, y)


def scene(t: int) -> np.ndarray:
    """Frame t of a blurred-noise texture translated by t * STEP (sub-pixel, by an affine warp)."""
    texture = cv2.GaussianBlur(
        np.random.default_rng(0).uniform(0, 255, (SHAPE[0] + 80, SHAPE[1] + 80, 3)).astype(np.float32), (0, 0), 2.0
    )
    texture = (texture - texture.mean()) / texture.std() * 50 + 128  # the contrast of printed or folded cloth
    shift = np.float32([[1, 0, t * STEP[0] - 40], [0, 1, t * STEP[1] - 40]])
    return np.clip(cv2.warpAffine(texture, shift, SHAPE[::-1], flags=cv2.INTER_LINEAR), 0, 255).astype(np.uint8)


def true_map(t: int) -> np.ndarray:
    """The part's true garment -> crop map at frame t: a fixed scaling, moving with the scene."""
    return np.array([[0.8, 0.0, 40 + t * STEP[0]], [0.0, 0.8, 30 + t * STEP[1]]])


@pytest.fixture(scope="module")
def samples() -> np.ndarray:
    alpha = np.zeros((200, 150), np.float32)
    alpha[20:160, 20:130] = 1
    return part_samples(alpha)


def run(fits, samples) -> list[np.ndarray]:
    flow = CropMotion()
    track = MotionTracker(flow)
    out = []
    for t, fit in enumerate(fits):
        flow.update(scene(t))
        out.append(track("torso", fit, samples))
    return out


def offset(matrix: np.ndarray, t: int, samples: np.ndarray) -> float:
    """Mean distance, crop pixels, between where `matrix` and the true map put the part's pixels."""
    diff = samples @ (matrix - true_map(t))[:, :2].T + (matrix - true_map(t))[:, 2]
    return float(np.linalg.norm(diff, axis=1).mean())


def test_an_exact_fit_is_kept(samples):
    maps = run([true_map(t) for t in range(12)], samples)
    # DIS's fast preset is good to about half a pixel on this texture.
    assert max(offset(m, t, samples) for t, m in enumerate(maps)) < 0.8


@pytest.fixture
def no_drift_limit(monkeypatch):
    """The pull's own dynamics, with `motion.DRIFT_LIMIT` out of the way (on this 256-pixel scene it is 3.8 px,
    within the jitter these tests add)."""
    monkeypatch.setattr(motion, "DRIFT_LIMIT", 1.0)


def test_keypoint_jitter_is_damped_and_the_motion_followed(samples, no_drift_limit):
    rng = np.random.default_rng(1)
    jitter = [rng.normal(0, 3.0, 2) for _ in range(30)]
    fits = [true_map(t) + np.array([[0, 0, j[0]], [0, 0, j[1]]]) for t, j in enumerate(jitter)]
    maps = run(fits, samples)
    fitted = np.mean([np.linalg.norm(j) for j in jitter[10:]])
    tracked = np.mean([offset(m, t, samples) for t, m in enumerate(maps)][10:])
    # Each frame moves by STEP (2.9 px): a tracker that lagged would show it; the jitter is cut at least in half.
    assert tracked < 0.5 * fitted, (tracked, fitted)


def started_off(samples, off: float, frames: int) -> list[float]:
    """A part's map started `off` px (x) from its true map, each later frame fitted exactly: its offsets, frames
    1 on."""
    flow = CropMotion()
    track = MotionTracker(flow)
    flow.update(scene(0))
    track("torso", true_map(0) + np.array([[0, 0, off], [0, 0, 0]]), samples)
    errors = []
    for t in range(1, frames):
        flow.update(scene(t))
        errors.append(offset(track("torso", true_map(t), samples), t, samples))
    return errors


def test_a_steady_fit_error_is_corrected(samples, no_drift_limit):
    """The flow cannot say where the garment belongs, the keypoints can: a map started 10 px off converges."""
    errors = started_off(samples, 10.0, 40)
    # 10 px x (1 - PULL)^39 is 0.16 px; the flow's own half-pixel error stays.
    assert errors[0] > 7 and errors[-1] < 10 * (1 - motion.PULL) ** 39 + 1.0


def test_a_part_the_pose_loses_keeps_following_the_flow(samples):
    fits = [true_map(t) if t < 4 else None for t in range(14)]
    maps = run(fits, samples)
    assert all(m is not None for m in maps)
    assert offset(maps[-1], 13, samples) < 1.5


def test_keypoints_follow_the_scene_with_their_jitter_damped():
    flow = CropMotion()
    track = KeypointTracker(flow)
    start = np.array([[60.0, 80.0], [120.0, 90.0], [90.0, 150.0]])
    rng = np.random.default_rng(4)
    errors, jitters = [], []
    for t in range(30):
        flow.update(scene(t))
        truth = start + t * STEP
        jitter = rng.normal(0, 3.0, start.shape)
        body = np.concatenate([truth + jitter, np.full((3, 1), 0.9)], axis=1)
        body = np.concatenate([body, np.zeros((len(BODY_INDEX) - 3, 3))])  # joints never seen stay as they are
        out = track(body)
        assert np.array_equal(out[3:], body[3:])
        if t >= 10:
            errors.append(np.linalg.norm(out[:3, :2] - truth, axis=1).mean())
            jitters.append(np.linalg.norm(jitter, axis=1).mean())
    assert np.mean(errors) < 0.5 * np.mean(jitters), (np.mean(errors), np.mean(jitters))


def carried_away(frames: int) -> float:
    """A body detected standing still (neck over two hips, one trunk length of 100 px) while the scene under it moves
    by STEP a frame (a ball dribbled past a hip): the farthest its tracked joints lie from their detections after
    `frames` frames."""
    flow = CropMotion()
    track = KeypointTracker(flow)
    body = np.zeros((len(BODY_INDEX), 3))
    for name, (x, y) in {"neck": (90, 60), "r_hip": (75, 160), "l_hip": (105, 160)}.items():
        body[BODY_INDEX[name]] = x, y, 0.9
    for t in range(frames):
        flow.update(scene(t))
        out = track(body)
    return float(np.linalg.norm(out[:, :2] - body[:, :2], axis=1).max())


def test_a_joint_the_flow_carries_away_is_held_near_its_detection(monkeypatch):
    """The pull alone lets the flow hold a joint about STEP (1 - PULL) / PULL (26 px) from its detection;
    `motion.KEYPOINT_DRIFT` holds it within that share of the trunk's length (15 px here). On gallery C8 (a man
    dribbling, bent over) the flow of the ball carried his hip 76 crop pixels up his arm, and the shirt was drawn as
    a slab along it."""
    assert carried_away(30) <= motion.KEYPOINT_DRIFT * 100 + 1e-6
    monkeypatch.setattr(motion, "KEYPOINT_DRIFT", 10.0)
    assert carried_away(30) > 20.0


def test_on_textureless_cloth_the_detection_leads():
    """Where the flow can see no motion (a plain surface), a joint is where the detector puts it."""
    flow = CropMotion()
    track = KeypointTracker(flow)
    plain = np.full((*SHAPE, 3), 200, np.uint8)
    for t in range(3):
        flow.update(plain)
        body = np.zeros((len(BODY_INDEX), 3))
        body[:2] = [[60.0 + 5 * t, 80.0, 0.9], [120.0, 90.0 - 4 * t, 0.9]]
        assert np.allclose(track(body), body)


def test_a_part_over_textureless_cloth_follows_its_fit(samples):
    flow = CropMotion()
    track = MotionTracker(flow)
    plain = np.full((*SHAPE, 3), 200, np.uint8)
    for t in range(3):
        flow.update(plain)
        fit = true_map(0) + np.array([[0, 0, 3.0 * t], [0, 0, -2.0 * t]])
        assert np.allclose(track("sleeve", fit, samples), fit)


def test_a_parts_position_and_shape_are_pulled_at_their_own_rates(samples):
    """From a carried map that is 20 px off and 20% too narrow: one frame moves the part's centre PULL of the way
    and its shape SHAPE_PULL of the way toward the fit."""
    fitted = true_map(0)
    carried = fitted.copy()
    carried[0, 0] *= 0.8
    centre = samples.mean(axis=0)
    carried[:, 2] += fitted[:, :2] @ centre - carried[:, :2] @ centre + np.array([20.0, 0.0])
    out = motion._pulled(carried, fitted, centre, motion.PULL, motion.SHAPE_PULL)
    position = lambda m: m[:, :2] @ centre + m[:, 2]
    assert np.allclose(position(out) - position(fitted), (1 - motion.PULL) * np.array([20.0, 0.0]))
    assert np.isclose(out[0, 0], fitted[0, 0] * (0.8 + 0.2 * motion.SHAPE_PULL))


def test_a_mirrored_fit_is_taken_as_it_is(samples):
    """The person turned past the side view: the fit is the mirror image of the carried map. Pulled between the
    two, the part would pass through a strip (its width times 1 - 2 SHAPE_PULL); it takes the fit at once. An
    unmirrored fit is still pulled."""
    fits = [true_map(t) for t in range(6)]
    mirrored = true_map(6)
    centre_x = samples[:, 0].mean()
    mirrored[0, 0] *= -1
    mirrored[0, 2] += 2 * 0.8 * centre_x  # the part's centre stays where it was
    maps = run(fits + [mirrored], samples)
    np.testing.assert_allclose(maps[-1], mirrored)
    pulled = run(fits + [true_map(6) + np.array([[0.1, 0, 0], [0, 0, 0]])], samples)[-1]
    assert not np.allclose(pulled, true_map(6) + np.array([[0.1, 0, 0], [0, 0, 0]]))


def test_a_map_far_from_the_fit_is_pulled_back_faster(samples):
    """A map started 20 px off the fit (as a flow's steady bias carries it, the 3DV-TON dress clip): what lies
    beyond `motion.DRIFT_LIMIT` of the crop's height is taken back by `EXCESS_PULL` a frame on top of the pull, so
    after five frames it is within the limit; by the pull alone it would still be 12 px off."""
    errors = started_off(samples, 20.0, 6)
    limit = motion.DRIFT_LIMIT * SHAPE[0]
    assert errors[0] < 20 * (1 - motion.PULL) - 4  # measured: 11
    assert errors[-1] < limit + 1.0, errors  # the flow's own sub-pixel error on top
