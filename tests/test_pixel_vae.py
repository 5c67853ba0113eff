"""The tiny model's VAE (`models/pixel_vae.py`): an AutoencoderKL whose hand-set weights keep colour. Checked
against independent references: PyTorch's average pooling for the encoder, its bilinear resize for the decoder."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from tryon_cli.models.configs import TINY
from tryon_cli.models.pixel_vae import LATENT_GAIN, make_pixel_autoencoder


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return make_pixel_autoencoder(AutoencoderKL(**TINY.vae)).eval()


def _images(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 64, 48, generator=generator) * 2 - 1


@torch.no_grad()
def test_latent_is_the_8x8_average_colour_times_the_gain(vae):
    images = _images()
    posterior = vae.encode(images).latent_dist
    latents = posterior.sample() * vae.config.scaling_factor
    assert latents.shape == (2, 4, 8, 6)
    torch.testing.assert_close(latents[:, :3], F.avg_pool2d(images, 8) * LATENT_GAIN, atol=1e-4, rtol=0)
    assert latents[:, 3].abs().max() < 1e-5
    assert posterior.std.max() < 1e-5  # a sample is the mean: training targets carry no VAE noise


@torch.no_grad()
def test_decoder_is_three_bilinear_doublings_of_the_colours(vae):
    latents = F.avg_pool2d(_images(1), 8) * LATENT_GAIN
    latents = torch.cat([latents, torch.zeros_like(latents[:, :1])], dim=1)
    decoded = vae.decode(latents / vae.config.scaling_factor).sample
    expected = latents[:, :3] / LATENT_GAIN
    for _ in range(3):
        expected = F.interpolate(expected, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(decoded, expected, atol=1e-4, rtol=0)


@torch.no_grad()
def test_a_flat_colour_comes_back_everywhere(vae):
    colour = torch.tensor([0.8, -0.9, -0.7]).view(1, 3, 1, 1)
    image = colour.expand(1, 3, 64, 48)
    decoded = vae.decode(vae.encode(image).latent_dist.mode()).sample
    torch.testing.assert_close(decoded, image, atol=1e-4, rtol=0)


def test_a_vae_the_construction_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="norm groups of 4"):
        make_pixel_autoencoder(AutoencoderKL(**{**TINY.vae, "block_out_channels": [8, 8, 16, 16]}))
