"""RGB uint8 frames -> float tensors, with the one resize that every metric here uses to change a frame's size
(bilinear with antialiasing, as torchvision's Resize on PIL images; FID has its own clean-fid resize)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def frames_to_tensor(frames: Sequence[np.ndarray], size: tuple[int, int] | None = None) -> torch.Tensor:
    """(N, 3, H, W) float in [0, 1] from N RGB uint8 (H, W, 3) frames, resized (squashed) to `size` = (h, w)."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x
