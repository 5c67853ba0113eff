"""Pose-aware temporal attention (PATA): Adpt(p_h) is added to the cross-attention output, then standard temporal
attention across the window's frames, with a zero-initialised output projection.

Two readings of "element-wise added to the output feature of the cross-attention block, followed by standard
temporal attention" (`pose_in_residual`):
- True (default, the text): y = x + Adpt(p_h) replaces the residual stream, then y + TempAttn(LN(y)). The pose
  offset reaches the rest of the block (FF) and every later layer, as the sentence says.
- False: x + TempAttn(LN(x + Adpt(p_h))): the pose offset feeds the temporal attention only and the residual
  stream is not moved by it (PASA already injects the pose there). Kept for comparison: both start as the
  identity (W_up and the output projection are zero), they differ only once the adapter has trained.
Without a pose adapter (`pose_dim=None`, ablation variant (a)) the module is plain temporal attention.

Positional encoding: the sinusoidal encoding of the frame's index within the window (transformer-style,
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
    """Residual PATA on (B*T, N, C) hidden states: returns the new hidden states."""

    def __init__(self, dim: int, heads: int, pose_dim: int | None, adapter_dim: int, pose_in_residual: bool = True):
        super().__init__()
        self.pose_adapter = None if pose_dim is None else PoseAdapter(pose_dim, adapter_dim, dim)
        self.pose_in_residual = pose_in_residual
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, processor=AttnProcessor())
        zero_output(self.attn)

    def forward(self, hidden_states: torch.Tensor, pose_tokens: torch.Tensor | None, frames: int) -> torch.Tensor:
        x = hidden_states
        if self.pose_adapter is not None and pose_tokens is not None:
            x = x + self.pose_adapter(pose_tokens)
        residual = x if self.pose_in_residual else hidden_states
        tokens = x.shape[1]
        x = rearrange(self.norm(x), "(b t) n c -> (b n) t c", t=frames)
        x = x + frame_positions(frames, x.shape[-1], x.device, x.dtype)
        x = self.attn(x)
        return residual + rearrange(x, "(b n) t c -> (b t) n c", n=tokens)
