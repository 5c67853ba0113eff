"""Classifier-free guidance (`tryon_cli.pipelines.sampling`); the DDIM loop itself: tests/test_sliding_window.py."""

from types import SimpleNamespace

import torch

from tryon_cli.pipelines.sampling import guided_noise


def fake_unet(sample, t, garment, human_pose_maps):
    # Row b of the batch predicts b + 1 everywhere, so unconditional (row 0) and conditional (row 1) differ.
    rows = torch.arange(1, sample.shape[0] + 1, dtype=torch.float32).view(-1, 1, 1, 1, 1)
    return rows.expand(-1, 4, *sample.shape[2:]) + 0 * human_pose_maps.sum()


def test_guided_noise_runs_unconditional_first_and_extrapolates_by_the_guidance_scale():
    sample, pose = torch.zeros(1, 9, 2, 4, 4), torch.zeros(1, 3, 2, 32, 32)
    guided = guided_noise(fake_unet, sample, torch.tensor(10), SimpleNamespace(batch_size=2), pose, guidance=2.5)
    torch.testing.assert_close(guided, torch.full((1, 4, 2, 4, 4), 1 + 2.5 * (2 - 1)))
    plain = guided_noise(fake_unet, sample, torch.tensor(10), SimpleNamespace(batch_size=1), pose, guidance=2.5)
    torch.testing.assert_close(plain, torch.ones(1, 4, 2, 4, 4))
