"""The sampling loop and classifier-free guidance, as k-diffusion separates them.

    latents = sample(model_fn, latents, timesteps, scheduler, callback)

`sample` is the loop alone: at each timestep the model function's noise prediction for the whole clip, then ONE
`scheduler.step` on the whole clip, then `callback(step, t, latents)`. What a prediction is (sliding windows,
guidance, the conditions) lives in `model_fn`, so any diffusers scheduler fits, multistep ones included (a
DPM-Solver keeps the previous predictions of the whole clip and must be stepped once per timestep).
`guided_noise` is classifier-free guidance for one U-Net call, shared by `DPIDMTryOnPipeline` and training's
validation video (through it). Light (torch only): nothing of the video or pose code is imported.
"""

from __future__ import annotations

from typing import Callable

import torch

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(latents, t) -> the noise prediction for those latents, of their shape."""
Callback = Callable[[int, torch.Tensor, torch.Tensor], None]
"""(step index, timestep, latents after the step)."""


def sample(
    model_fn: ModelFn, latents: torch.Tensor, timesteps: torch.Tensor, scheduler, callback: Callback | None = None
) -> torch.Tensor:
    """Run `scheduler` (a diffusers scheduler whose `set_timesteps` gave `timesteps`) from `latents` (already
    scaled by its `init_noise_sigma`) to the denoised latents."""
    for step, t in enumerate(timesteps):
        noise = model_fn(scheduler.scale_model_input(latents, t), t)
        latents = scheduler.step(noise, t, latents).prev_sample
        if callback is not None:
            callback(step, t, latents)
    return latents


def guided_noise(
    main_unet, sample: torch.Tensor, t: torch.Tensor, garment, human_pose_maps: torch.Tensor, guidance: float
) -> torch.Tensor:
    """The main U-Net's noise for `sample` (1, 9, T, h, w), in float32. When `garment` holds [dropped garment;
    garment] (`GarmentEncoder.encode_for_guidance`), classifier-free guidance: one batch of 2, unconditional first."""
    if garment.batch_size == 1:
        return main_unet(sample, t, garment=garment, human_pose_maps=human_pose_maps).float()
    sample, human_pose_maps = torch.cat([sample, sample]), torch.cat([human_pose_maps, human_pose_maps])
    uncond, cond = main_unet(sample, t, garment=garment, human_pose_maps=human_pose_maps).float().chunk(2)
    return uncond + guidance * (cond - uncond)
