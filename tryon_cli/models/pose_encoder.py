"""The pose encoder (paper 3.2): four conv layers from a pose image to latent-resolution pose features.

One encoder serves the human pose maps (every frame) and the garment pose map, as in the paper ("the human pose
embedding p_h and garment pose embedding p_g extracted from the pose encoder"). Each transformer block works at
one resolution level of the U-Net; `pyramid` brings the features there by average pooling (choice: pooling keeps
one set of encoder weights for all levels and needs no extra layers; a level's token is the mean pose feature of
the latent pixels it covers, the same region its U-Net feature summarises).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def level_grids(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Token grid per U-Net level for a latent of (height, width): each downsampler (3x3, stride 2, padding 1)
    rounds up."""
    grids = [(height, width)]
    for _ in range(levels - 1):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        grids.append((height, width))
    return grids


class PoseEncoder(nn.Module):
    """(N, 3, H, W) pose maps in [0, 1] -> (N, out_channels, ceil(H/8), ceil(W/8)) pose features."""

    def __init__(self, hidden_channels: tuple[int, int, int], out_channels: int):
        super().__init__()
        c1, c2, c3 = hidden_channels
        # Three stride-2 convs bring the image to latent resolution (the VAE's factor 8); the fourth sets the width.
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(3, c1, 3, stride=2, padding=1),
                nn.Conv2d(c1, c2, 3, stride=2, padding=1),
                nn.Conv2d(c2, c3, 3, stride=2, padding=1),
                nn.Conv2d(c3, out_channels, 3, stride=1, padding=1),
            ]
        )
        self.out_channels = out_channels

    def forward(self, pose_maps: torch.Tensor) -> torch.Tensor:
        x = pose_maps
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.silu(x)
        return x

    def pyramid(self, pose_maps: torch.Tensor, grids: list[tuple[int, int]]) -> list[torch.Tensor]:
        """Pose tokens per U-Net level: for each (h, w) in `grids`, (N, h*w, out_channels)."""
        features = self(pose_maps)
        levels = []
        for height, width in grids:
            pooled = F.adaptive_avg_pool2d(features, (height, width))
            levels.append(pooled.flatten(2).transpose(1, 2))
        return levels
