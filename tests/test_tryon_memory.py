"""Long videos at bounded memory (issue 13): what a DPIDM run keeps for the whole clip across the denoising loop.

A synthetic 1,000-frame clip at 512x384 goes through the engine's real encoding path (crops streamed from
`clip.frames()`, agnostic latents and latent masks stored by `DPIDMTryOnPipeline`); a stand-in VAE encoder keeps
it fast. Everything else per frame (pixels, masks at full size, pose maps) is streamed, so the whole-clip state
is the conditions plus the noisy latents.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.dpidm import DPIDMEngine
from tryon_cli.pipelines.dpidm_pipeline import retained_bytes
from tryon_cli.preprocess.keypoints import FramePose
from tryon_cli.progress import NullProgress

FRAMES, H, W = 1000, 512, 384
BUDGET = 160 * 1024  # bytes per frame: 147 KiB at 512x384 in fp32 (docs/design.md), with a margin


class SyntheticClip:
    num_frames, height, width, fps = FRAMES, H, W, 30.0

    def frames(self):
        mask = np.zeros((H, W), bool)
        mask[100:400, 80:300] = True
        for t in range(FRAMES):
            source = np.full((H, W, 3), t % 256, np.uint8)
            yield CropFrame(t, source, mask, np.where(mask[..., None], 128, source).astype(np.uint8), self._pose())

    def poses(self):
        return [self._pose() for _ in range(FRAMES)]

    @staticmethod
    def _pose():
        return FramePose(np.zeros((18, 3), np.float32))


class StandInVAE(torch.nn.Module):
    """Latents of the real shape (4 channels, 1/8 size) by pooling, instead of the VAE's convolutions."""

    config = SimpleNamespace(block_out_channels=[1, 2, 3, 4], scaling_factor=1.0)
    dtype = torch.float32

    def encode(self, pixels):  # (n, 3, H, W), as AutoencoderKL.encode takes them
        pooled = F.avg_pool2d(pixels, 8)
        latents = torch.cat([pooled, pooled[:, :1]], dim=1)
        return SimpleNamespace(latent_dist=SimpleNamespace(mode=lambda: latents))


class StandInModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.vae = StandInVAE()


def test_a_thousand_frame_clip_keeps_at_most_160_kib_per_frame():
    engine = DPIDMEngine(StandInModel())
    conditions = engine._encode_clip(SyntheticClip(), NullProgress())
    per_frame = retained_bytes(conditions) / FRAMES
    print(f"retained across the denoising loop: {per_frame / 1024:.1f} KiB per frame at {H}x{W}")
    assert conditions.num_frames == FRAMES
    assert conditions.agnostic_latents.shape == (1, 4, FRAMES, H // 8, W // 8)
    assert conditions.mask_latents.dtype == torch.bool
    # The stored conditions are what the frames gave (frame t is grey t % 256 outside the mask).
    expected = (torch.tensor(999 % 256) / 255 * 2 - 1).item()
    assert conditions.agnostic_latents[0, 0, 999, 0, 0].item() == pytest.approx(expected, abs=1e-6)
    assert per_frame <= BUDGET
