"""The DDIM sampler with classifier-free guidance, shared by `dpidm tryon` and the validation videos of training.

Light (torch and diffusers): the training code imports it without the inference pipeline's video and pose code.
"""

from __future__ import annotations

from typing import Callable

import torch
from diffusers import DDIMScheduler


def ddim_sample(scheduler_config, shape: tuple[int, ...], *, steps: int, seed: int, device: torch.device | str,
                predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Latents of `shape` denoised by DDIM in `steps` steps from seeded noise; `predict(latents, t)` gives the noise
    (latents already scaled for the model). The noise is drawn on the CPU from the seed, so a seed gives the same
    result on every device."""
    scheduler = DDIMScheduler.from_config(scheduler_config)
    scheduler.set_timesteps(steps, device=device)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    latents = noise.to(device) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        noise_pred = predict(scheduler.scale_model_input(latents, t), t)
        latents = scheduler.step(noise_pred, t, latents).prev_sample
    return latents


def guided_noise(main_unet, sample: torch.Tensor, t: torch.Tensor, garment, human_pose_maps: torch.Tensor,
                 guidance: float) -> torch.Tensor:
    """The main U-Net's noise for `sample` (1, 9, T, h, w), in float32. When `garment` holds [dropped garment;
    garment] (`encode_garment_for_guidance`), classifier-free guidance: one batch of 2, unconditional first."""
    if garment.batch_size == 1:
        return main_unet(sample, t, garment=garment, human_pose_maps=human_pose_maps).float()
    sample, human_pose_maps = torch.cat([sample, sample]), torch.cat([human_pose_maps, human_pose_maps])
    uncond, cond = main_unet(sample, t, garment=garment, human_pose_maps=human_pose_maps).float().chunk(2)
    return uncond + guidance * (cond - uncond)
