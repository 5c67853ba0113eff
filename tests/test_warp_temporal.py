"""`temporal.MatrixSmoother`: a part's affine damped in time without trailing a steady motion."""

from __future__ import annotations

import numpy as np

from tryon_cli.engines.warp.temporal import MatrixSmoother


def _shifted(tx: float, ty: float) -> np.ndarray:
    return np.array([[0.3, 0.0, tx], [0.0, 0.5, ty]])


def test_steady_motion_is_followed_without_lag():
    smooth = MatrixSmoother()
    for t in range(40):
        out = smooth("torso", _shifted(2.5 * t, 30.0))
    assert abs(out[0, 2] - 2.5 * 39) < 0.05 and abs(out[1, 2] - 30.0) < 1e-6


def test_jitter_is_damped_and_parts_are_independent():
    smooth = MatrixSmoother()
    rng = np.random.default_rng(0)
    raw = 30.0 + rng.uniform(-4, 4, 200)
    got = np.array([smooth("torso", _shifted(0.0, y))[1, 2] for y in raw])
    assert np.abs(np.diff(got[20:])).mean() < 0.85 * np.abs(np.diff(raw[20:])).mean()
    # Another part starts from its own first fit; a part that is not fitted this frame stays None, and when it
    # comes back it starts again from its new fit.
    assert np.allclose(smooth("r_forearm", _shifted(7.0, 8.0)), _shifted(7.0, 8.0))
    assert smooth("torso", None) is None
    assert np.allclose(smooth("torso", _shifted(90.0, 5.0)), _shifted(90.0, 5.0))
