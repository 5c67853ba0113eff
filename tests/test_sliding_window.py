"""The sliding-window schedule and its per-frame weights (pure functions, no model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_cli.pipelines.sliding_window import blend_windows, frame_weights, window_schedule

CASES = [(1, 24, 8), (23, 24, 8), (24, 24, 8), (25, 24, 8), (48, 24, 8), (100, 24, 8), (97, 16, 4), (50, 7, 0), (9, 2, 1)]


@pytest.mark.parametrize("num_frames,window,overlap", CASES)
@pytest.mark.parametrize("kind", ["flat", "pyramid"])
def test_every_frame_covered_and_weights_sum_to_one(num_frames, window, overlap, kind):
    windows = window_schedule(num_frames, window, overlap)
    covered = np.zeros(num_frames, dtype=int)
    for w in windows:
        assert 0 <= w.start < w.stop <= num_frames
        # Every window has the model's full length unless the whole video is shorter.
        assert w.stop - w.start == min(window, num_frames)
        covered[w] += 1
    assert covered.min() >= 1
    total = np.zeros(num_frames)
    for w, weight in zip(windows, frame_weights(num_frames, windows, kind)):
        assert weight.shape == (w.stop - w.start,) and np.all(weight > 0)
        total[w] += weight
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


def test_schedule_exact_values():
    assert window_schedule(48, 24, 8) == [slice(0, 24), slice(16, 40), slice(24, 48)]
    assert window_schedule(40, 24, 8) == [slice(0, 24), slice(16, 40)]
    assert window_schedule(10, 24, 8) == [slice(0, 10)]
    assert window_schedule(10, None, 0) == [slice(0, 10)]
    # Consecutive windows overlap by at least `overlap` frames, so no seam is generated without shared context.
    windows = window_schedule(100, 24, 8)
    assert all(b.start <= a.stop - 8 for a, b in zip(windows, windows[1:]))


def test_pyramid_weights_favour_window_centres():
    windows = window_schedule(40, 24, 8)
    first, second = frame_weights(40, windows, "pyramid")
    # Frame 16 is the second window's first frame but deep inside the first window.
    assert first[16] > second[0]
    # Frame 23 is the first window's last frame: the second window dominates.
    assert second[23 - 16] > first[23]


@pytest.mark.parametrize("bad", [(10, 4, 4), (10, 4, -1), (0, 4, 1), (10, 0, 0)])
def test_invalid_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        window_schedule(*bad)


@pytest.mark.parametrize("kind", ["flat", "pyramid"])
def test_blending_a_per_frame_prediction_is_exact(kind):
    # A prediction that depends on each frame alone must come through the windowed average unchanged: the
    # weights sum to one, so windowing may only change what a model does across frames.
    latents = torch.randn(1, 4, 37, 3, 2, generator=torch.Generator().manual_seed(0))
    predict = lambda w: torch.sin(latents[:, :, w]) * 3  # noqa: E731
    windows = window_schedule(37, 8, 3)
    blended = blend_windows(predict, latents, windows, frame_weights(37, windows, kind))
    torch.testing.assert_close(blended, predict(slice(0, 37)), rtol=0, atol=1e-6)


def test_blending_averages_disagreeing_windows():
    like = torch.zeros(1, 1, 5, 1, 1)
    windows = [slice(0, 3), slice(2, 5)]
    values = {0: 1.0, 2: 3.0}
    blended = blend_windows(lambda w: torch.full((1, 1, 3, 1, 1), values[w.start]), like, windows,
                            frame_weights(5, windows, "flat"))
    assert blended.flatten().tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
