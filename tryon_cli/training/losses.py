"""The training objective of section 3.6: L = L_LDM + lambda * L_TRA (Eq. 7).

`tra_loss` is Eq. 6 from what the two TRA layers hand over (their PASA queries and keys per head, `QueriesKeys`),
computed over chunks of queries so that no whole attention map is ever held: at 512x384, T=24, batch 2 one
layer's maps would be 48 x 8 x 3072 x 6144 entries (7.25e9), while its queries and keys are 40 times smaller.
tests/test_tra.py checks it against an explicit-loop float64 oracle of Eq. 6.
"""

from __future__ import annotations

import contextlib
import math
from typing import Sequence

import torch
import torch.nn.functional as F

DEFAULT_CHUNK = 256
"""Queries per chunk: a chunk's working set is about 7 float32 maps of heads x chunk x keys (8 x 256 x 6144 at
SD1.5's last decoder level: 50 MB each), whatever the clip length."""


def diffusion_target(scheduler, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the U-Net regresses (Eq. 1): the noise for epsilon-prediction (SD1.5), the velocity for v-prediction."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    raise ValueError(f"unsupported prediction type {kind!r}")


def ldm_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1: mean squared error, in float32 whatever the compute precision."""
    return F.mse_loss(prediction.float(), target.float())


def _full_precision(device: torch.device):
    """Autocast off on `device` (a no-op where autocast does not exist: the meta device of the memory pre-flight)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def _attention(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) in float32 (half precision loses the small weights), (..., Q, K). Autocast is off
    here: it would compute the scores in half precision in the forward pass (not in the backward pass, which runs
    outside autocast), and the recomputed maps would then not be the ones the loss was computed from."""
    with _full_precision(query.device):
        scores = torch.matmul(query.float(), key.float().transpose(-1, -2)) * (1.0 / math.sqrt(query.shape[-1]))
        return scores.softmax(dim=-1)


class _ChunkedRowChange(torch.autograd.Function):
    """sum over b, j >= 1, heads, queries, keys of |A_j - A_(j-1)| for A = softmax(q k^T / sqrt(d)) per frame,
    from q (B, T, H, N, d) and k (B, T, H, K, d); saves only q and k, and recomputes each chunk's maps in the
    backward pass (one sample, `chunk` queries, one frame at a time, three frames held)."""

    @staticmethod
    def forward(ctx, query: torch.Tensor, key: torch.Tensor, chunk: int) -> torch.Tensor:
        ctx.save_for_backward(query, key)
        ctx.chunk = chunk
        total = query.new_zeros((), dtype=torch.float32)
        batch, frames, _, queries, _ = query.shape
        for b in range(batch):
            for start in range(0, queries, chunk):
                previous = _attention(query[b, 0, :, start : start + chunk], key[b, 0])
                for j in range(1, frames):
                    current = _attention(query[b, j, :, start : start + chunk], key[b, j])
                    total += (current - previous).abs().sum()
                    previous = current
        return total

    @staticmethod
    def backward(ctx, grad_total: torch.Tensor):
        query, key = ctx.saved_tensors
        chunk = ctx.chunk
        batch, frames, _, queries, dim = query.shape
        scale = 1.0 / math.sqrt(dim)
        grad_query = torch.zeros_like(query, dtype=torch.float32)
        grad_key = torch.zeros_like(key, dtype=torch.float32)
        for b in range(batch):
            for start in range(0, queries, chunk):
                rows = slice(start, start + chunk)
                maps = [None, _attention(query[b, 0, :, rows], key[b, 0])]  # A_(j-1), A_j
                for j in range(frames):
                    maps.append(_attention(query[b, j + 1, :, rows], key[b, j + 1]) if j + 1 < frames else None)
                    before, current, after = maps[-3:]
                    # d/dA_j of |A_j - A_(j-1)| + |A_(j+1) - A_j| (sign(0) = 0, as autograd's abs gives)
                    grad_map = torch.zeros_like(current)
                    if before is not None:
                        grad_map += torch.sign(current - before)
                    if after is not None:
                        grad_map -= torch.sign(after - current)
                    grad_map *= grad_total
                    # softmax backward, then the two matmuls of the scores
                    grad_scores = current * (grad_map - (grad_map * current).sum(dim=-1, keepdim=True)) * scale
                    with _full_precision(query.device):
                        grad_query[b, j, :, rows] = torch.matmul(grad_scores, key[b, j].float())
                        grad_key[b, j] += torch.matmul(grad_scores.transpose(-1, -2), query[b, j, :, rows].float())
                    maps.pop(0)
        return grad_query.to(query.dtype), grad_key.to(key.dtype), None


def _check(layers: Sequence, gammas: Sequence[float]) -> None:
    if len(layers) != len(gammas):
        raise ValueError(f"{len(layers)} TRA layers but {len(gammas)} gammas")


def tra_loss(layers: Sequence, gammas: Sequence[float], *, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Temporal regularised attention loss, Eq. 6: sum_i sum_{j=2..T} gamma_i |A_i^(j) - A_i^(j-1)|.

    `layers[i]` is layer i's `(query, key)` (`QueriesKeys`): query (B, T, heads, N, d), key (B, T, heads, K, d);
    its attention map A_i^(j) = softmax(q k^T / sqrt(d)) of frame j is computed `chunk` queries at a time in
    float32 and recomputed in the backward pass, so memory is O(chunk x K x heads) beyond q and k. The paper
    leaves the norm |.| unspecified; we take the L1 distance between corresponding attention rows (sum over keys,
    so each term lies in [0, 2]) averaged over queries, heads and the batch, so the loss does not grow with
    resolution. Frame pairs and layers are summed, as in Eq. 6. Clips of one frame give 0.
    """
    _check(layers, gammas)
    total = layers[0][0].new_zeros((), dtype=torch.float32)
    for (query, key), gamma in zip(layers, gammas):
        batch, _, heads, queries, _ = query.shape
        total = total + gamma * _ChunkedRowChange.apply(query, key, chunk) / (batch * heads * queries)
    return total
