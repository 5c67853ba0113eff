"""The tiny model's VAE: a diffusers `AutoencoderKL` whose weights are set by hand to a colour-keeping autoencoder.

A randomly initialised VAE does not carry colour: its decoder maps every latent to about the same noise (measured:
a red and a blue shirt both come back as grey-green noise). Whatever a tiny DPIDM learns would then be invisible in
its output, so the tiny base's VAE is this fixed one instead. It is still an `AutoencoderKL` (same code paths,
dtypes and memory estimate); only its weights differ:

- encoder: the 8x8 average colour (three 2x2 average-pooling downsamplers), so the scaled latent (x `scaling_factor`)
  holds the block's R, G, B in [-1, 1] times LATENT_GAIN in channels 0-2 and 0 in channel 3; log-variance -30 (a
  posterior sample is its mean to 1e-6);
- decoder: those colours, upsampled 2x three times by nearest neighbour and a [1, 2, 1] / 4 filter (bilinear;
  the border replicated).

Every residual branch and attention output is zero, so each block passes its input through. The only non-linear
steps left are the two output norms (GroupNorm, then SiLU): each group of four channels holds (v, -v, +K, -K), so
its mean is 0 and its spread is K (to 5e-5 for |v| <= 1), which the norm's scale undoes; its shift moves v to +B,
where SiLU is the identity to 1e-7, and the next convolution subtracts B. Needs 16 channels per level and 4 norm
groups (`configs.TINY`).
"""

from __future__ import annotations

import math

import torch
from diffusers import AutoencoderKL
from torch import nn

COLOURS = 3
# SD1.5's scaled latents have a standard deviation of about 1, the diffusion schedule's unit; a frame's 8x8 average
# colours about 0.25 (measured on the synthetic set of benchmarks/synthetic_tryon.py: 0.19-0.24).
LATENT_GAIN = 4.0
K = 100.0  # the constant channels' value: the norm's spread is K to 5e-5 relative while |v| <= 1
B = 20.0  # the shift that puts every signal where SiLU(x) = x (x * (1 - e^-19) for x >= 19)
LOG_VARIANCE = -30.0  # the lowest diffusers allows: sampling the posterior returns its mean
GROUP = 4  # channels of one norm group: (v, -v, +K, -K)


def _signal_channels(channels: int) -> list[int]:
    return list(range(0, channels, GROUP))


def _carry(conv: nn.Conv2d, kernel: torch.Tensor) -> None:
    """Each channel of the group layout to itself through a per-channel `kernel` (kh, kw); bias 0."""
    conv.weight.zero_()
    conv.bias.zero_()
    for c in range(conv.out_channels):
        conv.weight[c, c] = kernel


def _layout_bias(conv: nn.Conv2d) -> None:
    """The +K and -K channels of each group come from the bias of the convolution that opens the layout."""
    conv.bias.zero_()
    for g in _signal_channels(conv.out_channels):
        conv.bias[g + 2], conv.bias[g + 3] = K, -K


def _norm_to_signal(norm: nn.GroupNorm) -> None:
    # A group (v, -v, K, -K) has mean 0 and standard deviation sqrt((E[v^2] + K^2) / 2) ~ K / sqrt(2).
    norm.weight.fill_(K / math.sqrt(2))
    norm.bias.fill_(B)


def _pass_through(module: nn.Module) -> None:
    """Zero every residual branch (ResnetBlock2D's second conv) and attention output, so blocks are identities."""
    for name, child in module.named_modules():
        if name.endswith("conv2") or name.endswith("to_out.0"):
            child.weight.zero_()
            child.bias.zero_()


@torch.no_grad()
def make_pixel_autoencoder(vae: AutoencoderKL) -> AutoencoderKL:
    """Set `vae`'s weights (in place) to the colour-keeping autoencoder of the module docstring; returns it."""
    encoder, decoder = vae.encoder, vae.decoder
    channels = encoder.conv_in.out_channels
    norms = [encoder.conv_norm_out, decoder.conv_norm_out]
    if (
        len(set(vae.config.block_out_channels)) != 1
        or channels < GROUP * (COLOURS + 1)
        or any(n.num_channels // n.num_groups != GROUP for n in norms)
        or vae.config.latent_channels != COLOURS + 1
    ):
        raise ValueError("a pixel autoencoder needs one width for every level, 4 latents and norm groups of 4 channels")
    signals = _signal_channels(channels)[: COLOURS + 1]
    scale = vae.config.scaling_factor / LATENT_GAIN  # latent x scaling_factor = colour x LATENT_GAIN

    _pass_through(vae)
    # Encoder: RGB into the group layout at full size, 2x2 averages, then the latent mean = colour / scaling_factor.
    encoder.conv_in.weight.zero_()
    _layout_bias(encoder.conv_in)
    for colour, g in enumerate(signals[:COLOURS]):
        encoder.conv_in.weight[g, colour, 1, 1] = 1.0
        encoder.conv_in.weight[g + 1, colour, 1, 1] = -1.0
    average = torch.zeros(3, 3)
    average[:2, :2] = 0.25  # diffusers pads a stride-2 downsampler on the right and bottom: rows 2i, 2i+1
    for block in encoder.down_blocks:
        for down in block.downsamplers or []:
            _carry(down.conv, average)
    _norm_to_signal(encoder.conv_norm_out)
    encoder.conv_out.weight.zero_()
    encoder.conv_out.bias.zero_()
    latents = vae.config.latent_channels
    for latent, g in enumerate(signals[:COLOURS]):
        encoder.conv_out.weight[latent, g, 1, 1] = 1.0 / scale
        encoder.conv_out.bias[latent] = -B / scale
    encoder.conv_out.bias[latents:] = LOG_VARIANCE
    for conv in (vae.quant_conv, vae.post_quant_conv):
        if conv is not None:
            _carry(conv, torch.ones(1, 1))

    # Decoder: the latent (colour / scaling_factor) into the group layout, bilinear 2x upsampling, back to RGB.
    decoder.conv_in.weight.zero_()
    _layout_bias(decoder.conv_in)
    for latent, g in enumerate(signals):
        decoder.conv_in.weight[g, latent, 1, 1] = scale
        decoder.conv_in.weight[g + 1, latent, 1, 1] = -scale
    tent = torch.tensor([1.0, 2.0, 1.0]) / 4
    for block in decoder.up_blocks:
        for up in block.upsamplers or []:
            _carry(up.conv, torch.outer(tent, tent))
            up.conv.padding_mode = "replicate"  # zero padding would darken the border rows at every level
    _norm_to_signal(decoder.conv_norm_out)
    decoder.conv_out.weight.zero_()
    for colour, g in enumerate(signals[:COLOURS]):
        decoder.conv_out.weight[colour, g, 1, 1] = 1.0
    decoder.conv_out.bias.fill_(-B)
    return vae
