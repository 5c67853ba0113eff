"""The pose adapter, Eq. 3: Adpt(p) = W_up(GELU(W_down(p))), with W_up zero-initialised.

The zero W_up makes a freshly built DPIDM ignore the pose exactly, so training starts from the pretrained
behaviour ("to preserve the original feature space of diffusion models").
"""

from __future__ import annotations

import torch
from torch import nn


class PoseAdapter(nn.Module):
    """(..., pose_dim) pose tokens -> (..., out_dim) offsets added to a layer's features."""

    def __init__(self, pose_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.down = nn.Linear(pose_dim, hidden_dim)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden_dim, out_dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, pose_tokens: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(pose_tokens)))
