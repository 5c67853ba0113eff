"""Pose-aware temporal attention (PATA): Adpt(p_h) is added to the cross-attention output, then standard temporal
attention across the window's frames, with a zero-initialised output projection.

Choices the paper leaves open:
- The pose offset feeds the temporal attention only: the block computes x + TempAttn(LayerNorm(x + Adpt(p_h))),
  so the residual stream itself is not moved by the pose here (PASA already injects the pose into it); with PATA
  switched off (image phase) the pose has no path through this block.
- Positional encoding: the sinusoidal encoding of the frame's index within the window (transformer-style,
  no parameters, any window length), added after the LayerNorm as AnimateDiff's motion modules do. Relative
  to the window start, so every sliding window sees the same positions.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import get_timestep_embedding
from einops import rearrange
from torch import nn

from tryon_cli.models.attention.backend import AttnProcessor, zero_output
from tryon_cli.models.pose_adapter import PoseAdapter


def frame_positions(frames: int, dim: int, device, dtype) -> torch.Tensor:
    """(T, dim) sinusoidal encoding of frame indices 0..T-1."""
    positions = torch.arange(frames, device=device)
    return get_timestep_embedding(positions, dim, flip_sin_to_cos=False, downscale_freq_shift=0).to(dtype)


class PoseAwareTemporalAttention(nn.Module):
    """Residual PATA: returns the update to add to (B*T, N, C) hidden states."""

    def __init__(self, dim: int, heads: int, pose_dim: int, adapter_dim: int):
        super().__init__()
        self.pose_adapter = PoseAdapter(pose_dim, adapter_dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, processor=AttnProcessor())
        zero_output(self.attn)

    def forward(self, hidden_states: torch.Tensor, pose_tokens: torch.Tensor | None, frames: int) -> torch.Tensor:
        x = hidden_states if pose_tokens is None else hidden_states + self.pose_adapter(pose_tokens)
        tokens = x.shape[1]
        x = rearrange(self.norm(x), "(b t) n c -> (b n) t c", t=frames)
        x = x + frame_positions(frames, x.shape[-1], x.device, x.dtype)
        x = self.attn(x)
        return rearrange(x, "(b n) t c -> (b t) n c", n=tokens)
