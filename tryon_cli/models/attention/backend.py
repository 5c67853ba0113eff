"""Which kernel computes attention, and the processor that every DPIDM attention layer uses.

PyTorch's scaled-dot-product attention (SDPA) by default. xformers' memory-efficient attention when it is
installed and the tensors are on CUDA: probed once per process on the first CUDA call; if the probe fails, one
warning and SDPA from then on. The explicit softmax (`attend_with_map`) is used only where the caller needs the
attention map itself: the PASA layers that the TRA loss reads (Eq. 6), and only while maps are being collected.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

BACKENDS = ("auto", "sdpa", "xformers")
_preference = "auto"
_cuda_backend: str | None = None


def set_backend(name: str) -> None:
    """Choose the kernel: "auto" (xformers on CUDA when it runs, else SDPA), "sdpa", or "xformers" (still probed:
    where it cannot run, one warning and SDPA)."""
    global _preference, _cuda_backend
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {', '.join(BACKENDS)}")
    _preference, _cuda_backend = name, None


def _probe_xformers(device: torch.device) -> str:
    try:
        import xformers.ops
    except ImportError:
        if _preference == "xformers":
            warnings.warn("xformers was asked for but is not installed; using PyTorch SDPA")
        return "sdpa"
    try:
        probe = torch.zeros(1, 8, 1, 64, device=device, dtype=torch.float16)
        xformers.ops.memory_efficient_attention(probe, probe, probe)
    except Exception as err:  # a broken build (e.g. made for another torch) must not stop inference
        warnings.warn(f"xformers is installed but does not run here ({type(err).__name__}: {err}); using PyTorch SDPA")
        return "sdpa"
    return "xformers"


def backend_for(device: torch.device) -> str:
    """'xformers' or 'sdpa' for tensors on `device` (the xformers probe runs once per process)."""
    global _cuda_backend
    if device.type != "cuda" or _preference == "sdpa":
        return "sdpa"
    if _cuda_backend is None:
        _cuda_backend = _probe_xformers(device)
    return _cuda_backend


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Softmax attention on (N, heads, L, d) tensors with the device's backend."""
    if backend_for(query.device) == "xformers":
        import xformers.ops

        out = xformers.ops.memory_efficient_attention(
            query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
        )
        return out.transpose(1, 2)
    return F.scaled_dot_product_attention(query, key, value)


def attend_with_map(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Explicit softmax attention: the output and the map (N, heads, Lq, Lk), both in autograd."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * (1.0 / math.sqrt(query.shape[-1]))
    probs = scores.float().softmax(dim=-1).to(query.dtype)  # half-precision softmax loses the small weights
    return torch.matmul(probs, value), probs


def split_heads(tokens: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, heads*d) -> (N, heads, L, d)."""
    return tokens.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(tokens: torch.Tensor) -> torch.Tensor:
    """(N, heads, L, d) -> (N, L, heads*d)."""
    return tokens.transpose(1, 2).flatten(2)


class AttnProcessor:
    """Plain attention for a diffusers `Attention` of SD1.5's kind (to_q/to_k/to_v/to_out, no masks or norms),
    on the backend of the device. Used for cross-attention, TSA, PATA and the garment U-Net."""

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if attention_mask is not None:
            raise ValueError("DPIDM attention does not take attention masks")
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query = split_heads(attn.to_q(hidden_states), attn.heads)
        key = split_heads(attn.to_k(context), attn.heads)
        value = split_heads(attn.to_v(context), attn.heads)
        return project_out(attn, attend(query, key, value))


def project_out(attn: Attention, heads_out: torch.Tensor) -> torch.Tensor:
    """Merge heads and apply the layer's output projection and dropout."""
    return attn.to_out[1](attn.to_out[0](merge_heads(heads_out)))


def zero_output(attn: Attention) -> None:
    """Zero-initialise the output projection, so that a new residual attention layer starts as the identity."""
    torch.nn.init.zeros_(attn.to_out[0].weight)
    if attn.to_out[0].bias is not None:
        torch.nn.init.zeros_(attn.to_out[0].bias)
