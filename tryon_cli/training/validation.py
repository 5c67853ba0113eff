"""A validation video during training: the first clip of the dataset, generated with the paper's inference
settings (DDIM, classifier-free guidance), written as [target | agnostic input | generated] side by side.

One window of `validation.frames` frames, no sliding windows: it shows how training goes, not a final result
(`dpidm tryon --checkpoint` makes those).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from tryon_cli.data.dataset import Augmentation, TryOnDataset
from tryon_cli.data.sampler import SampleKey
from tryon_cli.io import write_video
from tryon_cli.models import inpainting_input
from tryon_cli.pipelines.sampling import ddim_sample, guided_noise
from tryon_cli.training.config import TrainConfig
from tryon_cli.training.objective import latent_mask


def _uint8(video: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((video.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).cpu().numpy()


@torch.no_grad()
def validation_video(model, dataset: TryOnDataset, config: TrainConfig, path: Path, writer=None, step: int = 0) -> Path:
    settings = config.validation
    plain = copy.copy(dataset)
    plain.augmentation = Augmentation(flip_p=0.0, keypoint_drop_p=0.0)
    frames = min(settings.frames, plain.frame_counts[0])
    device = model.main_unet.unet.device
    sample = {k: v[None].to(device) for k, v in plain[SampleKey(0, 0, frames, 0, False)].items()}

    was_training = model.training
    model.eval()
    agnostic = model.encode_latents(sample["agnostic_pixels"]).float()
    mask = latent_mask(sample["mask"], agnostic.shape[-2:])
    garment = model.encode_garment_for_guidance(sample["garment_pixels"], sample["garment_pose_map"])

    def predict(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sample_input = inpainting_input(latents, mask, agnostic)
        return guided_noise(model.main_unet, sample_input, t, garment, sample["human_pose_maps"], settings.guidance_scale)

    latents = ddim_sample(model.noise_scheduler.config, agnostic.shape, steps=settings.inference_steps, seed=0,
                          device=device, predict=predict)
    generated = model.decode_latents(latents)[0]
    model.train(was_training)

    panels = [_uint8(sample["pixel_values"][0]), _uint8(sample["agnostic_pixels"][0]), _uint8(generated)]
    strip = np.concatenate(panels, axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, list(strip), fps=8)
    if writer is not None:
        writer.add_image("validation/first_frame", strip[0], step, dataformats="HWC")
    return path
