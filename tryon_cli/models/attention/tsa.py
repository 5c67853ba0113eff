"""Temporal-shift attention (TSA), Eq. 5: h^ = Attn(psi_q(h), psi_k([h, h_shift]), psi_v([h, h_shift])).

h_shift is a patch-level temporal shift: each token position of frame t takes the token at the same position
from one of the previous L frames. Choices the paper leaves open:
- Shift pattern: the token at grid cell (i, j) comes from frame t - 1 - ((i + j) mod L). Diagonal stripes, one
  token wide (a "patch" is one latent token, 8x8 pixels at the first level): every neighbourhood of L tokens sees
  all L previous frames, and every previous frame covers 1/L of the image evenly, at every U-Net level.
- Looking back only: a source frame before the window's first frame is clamped to the first frame. So frame 0
  gets h_shift = h: its keys and values are [h, h], and attention over duplicated key/value pairs equals plain
  self-attention over h (each weight halves, each value counts twice). No frame ever reads a later frame.
- TSA is a residual block of its own (LayerNorm, attention, zero-initialised output projection; q/k/v start as
  copies of the block's pretrained self-attention), trained in the video phase; with its output projection at
  zero, a new TSA leaves the image model unchanged.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention
from torch import nn

from tryon_cli.models.attention.backend import AttnProcessor, zero_output


def shift_sources(frames: int, grid: tuple[int, int], shift_frames: int, device=None) -> torch.Tensor:
    """(T, h*w) long: the frame each token of h_shift is taken from."""
    height, width = grid
    rows = torch.arange(height, device=device).view(-1, 1)
    cols = torch.arange(width, device=device).view(1, -1)
    offset = 1 + (rows + cols).remainder(shift_frames).flatten()
    return (torch.arange(frames, device=device).view(-1, 1) - offset).clamp(min=0)


def temporal_shift(tokens: torch.Tensor, frames: int, grid: tuple[int, int], shift_frames: int) -> torch.Tensor:
    """(B*T, h*w, C) -> h_shift (B*T, h*w, C)."""
    by_frame = tokens.unflatten(0, (-1, frames))
    batch, _, count, channels = by_frame.shape
    sources = shift_sources(frames, grid, shift_frames, tokens.device)
    index = sources.view(1, frames, count, 1).expand(batch, -1, -1, channels)
    return torch.gather(by_frame, 1, index).flatten(0, 1)


class TemporalShiftAttention(nn.Module):
    """Residual TSA: returns the update to add to (B*T, N, C) hidden states."""

    def __init__(self, dim: int, heads: int, shift_frames: int):
        super().__init__()
        self.shift_frames = shift_frames
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, processor=AttnProcessor())
        zero_output(self.attn)

    @torch.no_grad()
    def init_from(self, self_attention: Attention) -> None:
        """Start q, k, v from the pretrained spatial self-attention (the output projection stays zero)."""
        for name in ("to_q", "to_k", "to_v"):
            getattr(self.attn, name).weight.copy_(getattr(self_attention, name).weight)

    def forward(self, hidden_states: torch.Tensor, frames: int, grid: tuple[int, int]) -> torch.Tensor:
        h = self.norm(hidden_states)
        shifted = temporal_shift(h, frames, grid, self.shift_frames)
        return self.attn(h, encoder_hidden_states=torch.cat([h, shifted], dim=1))
