"""The pure statistics against their reference implementations: Frechet distance (pytorch-fid), KID (clean-fid's
formula), SSIM (scikit-image, on real frames)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_cli.io import read_frames
from tryon_cli.metrics.frechet import feature_statistics, fid, frechet_distance
from tryon_cli.metrics.kid import kid
from tryon_cli.metrics.ssim import ssim


def _rel_err(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("n, dim", [(200, 16), (12, 64)], ids=["full-rank", "singular-covariance"])
def test_frechet_distance_matches_pytorch_fid(n, dim):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, dim))
    b = rng.normal(loc=0.3, scale=1.5, size=(n, dim)) @ rng.normal(size=(dim, dim)) * 0.3
    mu_a, sigma_a = feature_statistics(a)
    mu_b, sigma_b = feature_statistics(b)
    if n < dim:
        assert np.linalg.matrix_rank(sigma_a) < dim  # the case pytorch-fid handles with its eps retry
    expected = calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
    assert _rel_err(frechet_distance(mu_a, sigma_a, mu_b, sigma_b), expected) <= 1e-6
    assert _rel_err(fid(a, b), expected) <= 1e-6


def test_frechet_distance_of_a_set_with_itself_is_about_zero_and_grows_with_a_shift():
    feats = np.random.default_rng(1).normal(size=(300, 8))
    assert abs(fid(feats, feats)) < 1e-8
    assert fid(feats, feats + 0.5) == pytest.approx(8 * 0.25, rel=1e-6)  # |mu shift|^2, covariances equal


def _clean_fid_kid(x: np.ndarray, y: np.ndarray) -> float:
    """clean-fid's kernel_distance with one subset that holds every sample (written as clean-fid writes it)."""
    n = x.shape[1]
    m = len(x)
    a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
    b = (x @ y.T / n + 1) ** 3
    t = (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return t / m


def test_kid_equals_the_unbiased_estimate_when_one_subset_covers_all_samples():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 32)), rng.normal(loc=0.2, size=(50, 32))
    expected = _clean_fid_kid(x, y)
    assert kid(x, y, num_subsets=1, max_subset_size=1000) == pytest.approx(expected, rel=1e-9)
    # Subsets as large as the sets are permutations of them: every subset gives the same value.
    assert kid(x, y, num_subsets=7) == pytest.approx(expected, rel=1e-9)


def test_ssim_matches_scikit_image_on_real_frames(shared_data):
    from skimage.metrics import structural_similarity

    frames = list(read_frames(shared_data / "vivid" / "videos" / "upper1.mp4", 0, 6))
    a, b = frames[0], frames[5]
    # A second pair of different sizes, cropped so that the window does not fit an even number of times.
    c, d = frames[1][101:400, 37:300], frames[3][101:400, 37:300]
    for x, y in ((a, b), (c, d), (a, a)):
        xf, yf = x.astype(np.float64) / 255, y.astype(np.float64) / 255
        expected = structural_similarity(
            xf, yf, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
        )
        to_tensor = lambda z: torch.from_numpy(z).permute(2, 0, 1)[None]  # noqa: E731
        assert abs(ssim(to_tensor(xf), to_tensor(yf)).item() - expected) <= 1e-6
    assert ssim(to_tensor(xf), to_tensor(xf)).item() == pytest.approx(1.0, abs=1e-12)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 3, 8, 40), torch.rand(1, 3, 8, 40))
