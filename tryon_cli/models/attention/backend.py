"""Which kernel computes attention, and the processor that every DPIDM attention layer uses.

PyTorch's scaled-dot-product attention (SDPA) by default. xformers' memory-efficient attention when it is
installed and the tensors are on CUDA: probed on the first CUDA call; if the probe fails, one warning and SDPA
from then on. The choice is an `AttentionBackend` object that belongs to one model (`DPIDM.set_attention_backend`):
every processor of that model holds the same object, and two models never share one, so there is no process-wide
state. No layer ever materialises an attention map: the TRA loss gets queries and keys instead (Eq. 6,
`training/losses.py`).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

BACKENDS = ("auto", "sdpa", "xformers")


def _probe_xformers(device: torch.device, asked: bool) -> str:
    try:
        import xformers.ops
    except ImportError:
        if asked:
            warnings.warn("xformers was asked for but is not installed; using PyTorch SDPA")
        return "sdpa"
    try:
        probe = torch.zeros(1, 8, 1, 64, device=device, dtype=torch.float16)
        xformers.ops.memory_efficient_attention(probe, probe, probe)
    except Exception as err:  # a broken build (e.g. made for another torch) must not stop inference
        warnings.warn(f"xformers is installed but does not run here ({type(err).__name__}: {err}); using PyTorch SDPA")
        return "sdpa"
    return "xformers"


class AttentionBackend:
    """One model's attention kernel: "auto" (xformers on CUDA when it runs, else SDPA), "sdpa", or "xformers"
    (still probed: where it cannot run, one warning and SDPA)."""

    def __init__(self, name: str = "auto"):
        self.set(name)

    def set(self, name: str) -> None:
        if name not in BACKENDS:
            raise ValueError(f"unknown attention backend {name!r}; choose one of {', '.join(BACKENDS)}")
        self.name = name
        self._cuda_kernel: str | None = None

    def kernel_for(self, device: torch.device) -> str:
        """'xformers' or 'sdpa' for tensors on `device` (the xformers probe runs once per backend object)."""
        if device.type != "cuda" or self.name == "sdpa":
            return "sdpa"
        if self._cuda_kernel is None:
            self._cuda_kernel = _probe_xformers(device, asked=self.name == "xformers")
        return self._cuda_kernel

    def attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """Softmax attention on (N, heads, L, d) tensors with this backend's kernel."""
        if self.kernel_for(query.device) == "xformers":
            import xformers.ops

            out = xformers.ops.memory_efficient_attention(
                query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)
            )
            return out.transpose(1, 2)
        return F.scaled_dot_product_attention(query, key, value)


def split_heads(tokens: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, heads*d) -> (N, heads, L, d)."""
    return tokens.unflatten(-1, (heads, -1)).transpose(1, 2)


def merge_heads(tokens: torch.Tensor) -> torch.Tensor:
    """(N, heads, L, d) -> (N, L, heads*d)."""
    return tokens.transpose(1, 2).flatten(2)


class AttnProcessor:
    """Plain attention for a diffusers `Attention` of SD1.5's kind (to_q/to_k/to_v/to_out, no masks or norms),
    on its model's backend. Used for cross-attention, TSA, PATA and the garment U-Net."""

    def __init__(self, backend: AttentionBackend | None = None):
        self.backend = backend or AttentionBackend()

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
        return project_out(attn, self.backend.attend(query, key, value))


def project_out(attn: Attention, heads_out: torch.Tensor) -> torch.Tensor:
    """Merge heads and apply the layer's output projection and dropout."""
    return attn.to_out[1](attn.to_out[0](merge_heads(heads_out)))


def zero_output(attn: Attention) -> None:
    """Zero-initialise the output projection, so that a new residual attention layer starts as the identity."""
    torch.nn.init.zeros_(attn.to_out[0].weight)
    if attn.to_out[0].bias is not None:
        torch.nn.init.zeros_(attn.to_out[0].bias)
