"""Kernel Inception Distance: the unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets.

clean-fid conventions (what VITON-HD tables use): k(x, y) = (x.y / d + 1)^3, 100 subsets of at most 1000
samples drawn without replacement from each set, the unbiased estimate per subset, the mean reported. Try-on
papers print KID x 1000; the caller scales.
"""

from __future__ import annotations

import numpy as np


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    # Diagonal terms excluded: the unbiased U-statistic.
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2 * k_xy.mean())


def kid(
    features_a: np.ndarray, features_b: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> float:
    """KID between two (N, D) feature sets. With both sets no larger than `max_subset_size` every subset is the
    whole set, so the result is the plain unbiased MMD^2 of all samples."""
    x = np.asarray(features_a, dtype=np.float64)
    y = np.asarray(features_b, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need two (N, D) feature arrays of the same D, got {x.shape} and {y.shape}")
    size = min(len(x), len(y), max_subset_size)
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(num_subsets):
        sx = x[rng.choice(len(x), size, replace=False)]
        sy = y[rng.choice(len(y), size, replace=False)]
        estimates.append(_unbiased_mmd2(sx, sy))
    return float(np.mean(estimates))
