"""Pose-aware spatial attention (PASA), Eq. 4.

h = Attn(psi_q(f + Adpt(p)), psi_k(f + Adpt(p)), psi_v(f + Adpt(p))) with f = [f_h, f_g] and p = [p_h, p_g]
concatenated along the tokens; only the human half continues. Computing queries for the human tokens only gives
exactly that half. The pose adapter (one per block, shared by p_h and p_g as in Eq. 4) and the additions live in
`DPIDMTransformerBlock`; this processor gets f_h + Adpt(p_h) per frame and f_g + Adpt(p_g) per garment.
psi_q/k/v/o are the block's pretrained `attn1` weights (diffusers names kept, so SD1.5 loads as is).

The garment tokens are the same for every frame of a video, so their keys and values are projected once per
garment and shared by the frames (the same numbers as projecting each frame's copy, T times fewer FLOPs).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NamedTuple

import torch
from diffusers.models.attention_processor import Attention

from tryon_cli.models.attention.backend import AttentionBackend, project_out, split_heads


class QueriesKeys(NamedTuple):
    """What the TRA loss (Eq. 6) needs from one PASA layer instead of its attention map: the layer's map is
    softmax(query @ key^T / sqrt(d)). query (B, T, heads, N_h, d); key (B, T, heads, N_h + N_g, d)."""

    query: torch.Tensor
    key: torch.Tensor


class QueriesKeysRecorder:
    """The named hook that collects the TRA layers' `QueriesKeys` during one main U-Net call: attached to those
    blocks for the call (`attached`), each records its PASA queries and keys here under its name (`recorded`)."""

    def __init__(self) -> None:
        self.recorded: dict[str, QueriesKeys] = {}

    def record(self, name: str, queries_keys: QueriesKeys) -> None:
        self.recorded[name] = queries_keys

    @contextmanager
    def attached(self, blocks: list) -> Iterator["QueriesKeysRecorder"]:
        """Set as `queries_keys_hook` of `blocks` (DPIDMTransformerBlocks) for the `with` body only."""
        for block in blocks:
            block.queries_keys_hook = self
        try:
            yield self
        finally:
            for block in blocks:
                block.queries_keys_hook = None


class PASAProcessor:
    """Self-attention of human tokens over [human tokens, garment tokens]."""

    def __init__(self, backend: AttentionBackend | None = None):
        self.backend = backend or AttentionBackend()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        garment_tokens: torch.Tensor | None = None,
        frames: int = 1,
        return_queries_keys: bool = False,
    ):
        """`hidden_states` (B*T, N_h, C): f_h + Adpt(p_h); `garment_tokens` (B, N_g, C): f_g + Adpt(p_g), or None
        for plain self-attention. Returns (B*T, N_h, C), and with `return_queries_keys` also the `QueriesKeys`
        of this layer (the output still comes from the backend's fast kernel)."""
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("PASA attends over its own human and garment tokens; no context or mask is taken")
        query = split_heads(attn.to_q(hidden_states), attn.heads)
        key = split_heads(attn.to_k(hidden_states), attn.heads)
        value = split_heads(attn.to_v(hidden_states), attn.heads)
        if garment_tokens is not None:
            garment_key = split_heads(attn.to_k(garment_tokens), attn.heads).repeat_interleave(frames, dim=0)
            garment_value = split_heads(attn.to_v(garment_tokens), attn.heads).repeat_interleave(frames, dim=0)
            key = torch.cat([key, garment_key], dim=2)
            value = torch.cat([value, garment_value], dim=2)
        out = project_out(attn, self.backend.attend(query, key, value))
        if return_queries_keys:
            by_frame = QueriesKeys(query.unflatten(0, (-1, frames)), key.unflatten(0, (-1, frames)))
            return out, by_frame
        return out
