"""The VAE in both directions for images and videos, in SD1.5's scaled latent space.

    latents = encode_latents(vae, pixels)          # (B, 3, [T,] H, W) in [-1, 1] -> (B, 4, [T,] H/8, W/8)
    pixels = decode_latents(vae, latents)          # and back (not clamped)

`vae` is a diffusers `AutoencoderKL` (`DPIDM.vae`); frames go through it `chunk` at a time, which bounds the
activations held at once.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL


def encode_latents(vae: AutoencoderKL, pixels: torch.Tensor, *, sample: bool = False, chunk: int = 8) -> torch.Tensor:
    """Images (B, 3, H, W) or videos (B, 3, T, H, W) in [-1, 1] -> scaled latents (B, 4, [T,] H/8, W/8).
    The mode of the VAE posterior unless `sample` (training targets); `chunk` frames per VAE call."""
    video = pixels.ndim == 5
    frames = pixels.shape[2] if video else 1
    flat = pixels.transpose(1, 2).flatten(0, 1) if video else pixels
    flat = flat.to(vae.dtype)
    latents = []
    for part in flat.split(chunk):
        posterior = vae.encode(part).latent_dist
        latents.append(posterior.sample() if sample else posterior.mode())
    out = torch.cat(latents) * vae.config.scaling_factor
    return out.unflatten(0, (-1, frames)).transpose(1, 2) if video else out


def decode_latents(vae: AutoencoderKL, latents: torch.Tensor, *, chunk: int = 8) -> torch.Tensor:
    """Inverse of `encode_latents`: scaled latents -> pixels in [-1, 1] (not clamped)."""
    video = latents.ndim == 5
    frames = latents.shape[2] if video else 1
    flat = latents.transpose(1, 2).flatten(0, 1) if video else latents
    flat = flat.to(vae.dtype) / vae.config.scaling_factor
    out = torch.cat([vae.decode(part).sample for part in flat.split(chunk)])
    return out.unflatten(0, (-1, frames)).transpose(1, 2) if video else out
