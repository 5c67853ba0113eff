"""SSIM on RGB frames, scikit-image convention.

Settings (REFERENCE section 3): Gaussian window 11x11, sigma 1.5, data_range 1, K1 0.01, K2 0.03, population
(not sample) covariance, SSIM per channel then the channel mean. The SSIM map is computed only where the whole
window fits and its mean is taken over that valid region, as scikit-image
(`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
channel_axis=-1)`) and torchmetrics before 1.9 do. torchmetrics 1.9 instead averages the reflect-padded full
map; the two differ by about 1e-3 on typical frames, so tables computed with torchmetrics 1.9 may be a little
different. We pick the cropped convention because it has one unambiguous reference (scikit-image) that does not
change between library versions. Computed in float64 so it matches scikit-image to 1e-6.
"""

from __future__ import annotations

import torch

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    coords = torch.arange(WINDOW, dtype=dtype, device=device) - (WINDOW - 1) / 2
    g = torch.exp(-(coords**2) / (2 * SIGMA**2))
    return g / g.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM per image of two (N, C, H, W) batches with values in [0, data_range]; returns (N,) float64."""
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"need two (N, C, H, W) batches of one shape, got {tuple(pred.shape)}, {tuple(target.shape)}")
    if min(pred.shape[-2:]) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got {tuple(pred.shape[-2:])}")
    x, y = pred.double(), target.double()
    taps = _gaussian_taps(x.dtype, x.device).tolist()

    def blur(t: torch.Tensor) -> torch.Tensor:
        # The 2D Gaussian is separable: a pass along H then along W, each a weighted sum of shifted views over the
        # valid region only (float64 convolutions are very slow on the CPU; these sums are not).
        height, width = t.shape[-2] - WINDOW + 1, t.shape[-1] - WINDOW + 1
        rows = t[..., :height, :] * taps[0]
        for k in range(1, WINDOW):
            rows.add_(t[..., k : k + height, :], alpha=taps[k])
        out = rows[..., :width] * taps[0]
        for k in range(1, WINDOW):
            out.add_(rows[..., k : k + width], alpha=taps[k])
        return out

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov_xy = blur(x * y) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean(dim=(2, 3)).mean(dim=1)
