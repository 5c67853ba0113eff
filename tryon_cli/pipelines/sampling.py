"""Classifier-free guidance for one U-Net call, shared by `DPIDMTryOnPipeline` and training's validation video.

Light (torch only): the training code imports it without the inference pipeline's video and pose code.
"""

from __future__ import annotations

import torch


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
