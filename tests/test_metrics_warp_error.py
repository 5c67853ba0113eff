"""The warping error (Lai et al. 2018) against its definition on a synthetic translating pattern with exact flows,
the DIS flow on that pattern, and on a real clip: the source against itself, and per-frame jitter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_cli.io import read_frames
from tryon_cli.metrics.warp_error import non_occluded, pair_error, warp_error

REPO = Path(__file__).resolve().parents[1]
SHIFT = (3, 2)  # (dx, dy) pixels per frame


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (blurred noise), so that bilinear warps and flow are well posed."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    return (cv2.GaussianBlur(noise, (0, 0), 3) * 200 + 20).clip(0, 255).astype(np.uint8)


def _translating(frames: int, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """Frame t shows the texture moved right by dx*t and down by dy*t (a camera pan)."""
    dx, dy = SHIFT
    big = _texture(height + dy * frames, width + dx * frames)
    return [
        big[dy * (frames - t) : dy * (frames - t) + height, dx * (frames - t) : dx * (frames - t) + width].copy()
        for t in range(frames)
    ]


def _exact_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The true flow of `_translating` between consecutive frames, told apart by their content: the pattern
    moves by +SHIFT from a frame to the next, so `second` shifted back by SHIFT matches `first` or it is the
    previous frame (-SHIFT)."""
    dx, dy = SHIFT
    forward = np.array_equal(first[:-dy, :-dx], second[dy:, dx:])
    return np.broadcast_to(np.array(SHIFT, np.float32) * (1 if forward else -1), (*first.shape[:2], 2)).copy()


def test_pair_error_is_the_mean_squared_rgb_difference_over_the_visible_pixels():
    frames = _translating(2)
    height, width = frames[0].shape[:2]
    backward = np.broadcast_to(-np.array(SHIFT, np.float32), (height, width, 2)).copy()
    mask = non_occluded(backward, -backward)
    # Visible in frame 1: every pixel whose content was already in frame 0, i.e. all but the entering band.
    dx, dy = SHIFT
    expected_mask = np.zeros((height, width), bool)
    expected_mask[dy:, dx:] = True
    assert np.array_equal(mask, expected_mask)
    assert pair_error(frames[0], frames[1], backward, mask) == pytest.approx(0, abs=1e-10)
    # Brighten frame 1 by c in every channel: the error is 3 c^2 (squared norm over RGB, in [0, 1] units).
    brighter = frames[1] + np.uint8(10)
    assert pair_error(frames[0], brighter, backward, mask) == pytest.approx(3 * (10 / 255) ** 2, rel=1e-5)
    # Change only the occluded band: the error does not see it.
    hidden = frames[1].copy()
    hidden[:dy] = 0
    hidden[:, :dx] = 0
    assert pair_error(frames[0], hidden, backward, mask) == pytest.approx(0, abs=1e-10)


def test_inconsistent_flows_are_masked_out():
    height, width = 40, 50
    backward = np.zeros((height, width, 2), np.float32)
    forward = np.zeros_like(backward)
    forward[10:20, 10:20] = (5, 0)  # forward says that block moved; backward says nothing did
    mask = non_occluded(backward, forward)
    assert not mask[10:20, 10:20].any() and mask.sum() == height * width - 100


def test_video_score_is_the_mean_over_pairs_and_the_source_of_itself_scores_equal():
    source = _translating(5)
    offsets = [0, 10, 0, 20, 20]  # per-frame brightness: the pairs' errors are 3 * (delta / 255)^2
    prediction = [frame + np.uint8(o) for frame, o in zip(source, offsets)]
    score = warp_error(prediction, source, flow=_exact_flow)
    expected = np.mean([3 * ((b - a) / 255) ** 2 for a, b in zip(offsets, offsets[1:])])
    assert score.pairs == 4
    assert score.source == pytest.approx(0, abs=1e-10)
    assert score.prediction == pytest.approx(expected, rel=1e-5)
    same = warp_error(source, source, flow=_exact_flow)
    assert same.prediction == same.source


def test_dis_flow_follows_the_pan_so_the_source_scores_near_zero():
    source = _translating(6)
    score = warp_error(source, source)
    assert score.pairs == 5 and score.prediction == score.source and score.ratio == 1
    # Error of a 1/255 grey change, for scale: the pan's own residual is far below it.
    assert score.source < 3 * (1 / 255) ** 2


def _jittered(frames: list[np.ndarray], pixels: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        dx, dy = rng.integers(-pixels, pixels + 1, 2)
        matrix = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(frame, matrix, frame.shape[1::-1], borderMode=cv2.BORDER_REFLECT))
    return out


def test_per_frame_jitter_on_a_real_clip_scores_clearly_higher_than_the_clip():
    source = list(read_frames(REPO / "examples" / "person.mp4", 0, 5))
    itself = warp_error(source, source)
    assert itself.ratio == 1 and itself.pairs == 4
    jittered = warp_error(_jittered(source, 3), source)
    assert jittered.source == itself.source
    assert jittered.ratio > 3, jittered
    # A source at another size is resized to the prediction's: a half-size prediction of the clip still reads ~1.
    half = [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in source]
    assert warp_error(half, source).ratio == pytest.approx(1, abs=1e-6)


def test_the_regions_split_of_the_warping_error_adds_up_to_it_and_puts_a_jittering_patch_s_flicker_on_its_outline():
    """`benchmarks/warp_error_regions.py`: the three regions' shares sum to the metric's own ratio, and a flat
    patch drawn over a panning texture and jittered by a pixel a frame flickers on its outline, not inside it
    nor elsewhere (the patch is one colour, so moving it changes only the pixels near its edge)."""
    from benchmarks.warp_error_regions import split

    source = _translating(8, 400, 300)  # the outline's band: 2 pixels either side
    rng = np.random.default_rng(1)
    output = []
    for t, frame in enumerate(source):
        drawn = frame.copy()
        x, y = 100 + SHIFT[0] * t + int(rng.integers(-1, 2)), 100 + SHIFT[1] * t + int(rng.integers(-1, 2))
        drawn[y : y + 80, x : x + 80] = (20, 30, 200)
        output.append(drawn)
    result = split(output, source)
    whole = warp_error(output, source).ratio
    assert result["ratio"] == pytest.approx(whole, abs=0.01)
    assert sum(result["by_region"].values()) == pytest.approx(whole, abs=0.03)
    by_region = result["by_region"]
    assert by_region["edge"] > 10 * max(by_region["inside"], by_region["elsewhere"])
    # The source itself: nothing drawn, so nothing inside or on an outline, and the rest is the source's own error.
    unchanged = split(source, source)["by_region"]
    assert unchanged == {"inside": 0.0, "edge": 0.0, "elsewhere": pytest.approx(1.0, abs=0.01)}
