"""Each part's affine map made steady in time: Holt's double exponential smoothing of its six parameters.

The poses the engine gets are tracked and One-Euro smoothed, but a few pixels of jitter stay (hips hidden by a
hand or a bag, the neck under hair), and each part's affine, fitted to them frame by frame, moves the garment's
high-contrast edges by those pixels: the warping error (Lai et al. 2018, `metrics/warp_error.py`) was ~40x the
source's own on the shipped example (this damps the jitter; it is not what most of that error is: see
docs/warp_engine.md). A plain exponential average would make the garment trail a moving person;
Holt's method also tracks the parameters' trend (velocity), so a steady motion (a person walking across the
frame) follows without lag while the jitter around it is damped. Causal, so the engine still streams.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.85  # weight of the new fit in the smoothed level (1 = no smoothing)
TREND = 0.5  # weight of the new level change in the smoothed trend


class MatrixSmoother:
    """Per-video state: the smoothed (level, trend) of each part's 2x3 matrix in crop pixels."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, name: str, matrix: np.ndarray | None) -> np.ndarray | None:
        """The smoothed `matrix` (2x3, crop pixels) of part `name`. None (the part not fitted this frame) forgets
        the part's state: when it comes back it starts from its new fit, not from a stale level and trend."""
        if matrix is None:
            self.state.pop(name, None)
            return None
        matrix = np.asarray(matrix, np.float64)
        if name not in self.state:
            self.state[name] = (matrix, np.zeros_like(matrix))
            return matrix.copy()
        level, trend = self.state[name]
        new_level = LEVEL * matrix + (1 - LEVEL) * (level + trend)
        trend = TREND * (new_level - level) + (1 - TREND) * trend
        self.state[name] = (new_level, trend)
        return new_level.copy()
