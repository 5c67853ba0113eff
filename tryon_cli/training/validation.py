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
from tryon_cli.models.vae import decode_latents, encode_latents
from tryon_cli.pipelines.dpidm_pipeline import DPIDMTryOnPipeline, VideoConditions
from tryon_cli.preprocess.conditioning import latent_mask, to_uint8
from tryon_cli.training.config import TrainConfig


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
    agnostic = encode_latents(model.vae, sample["agnostic_pixels"]).float()
    mask = latent_mask(sample["mask"], agnostic.shape[-2:])
    conditions = VideoConditions(agnostic, mask, lambda window: sample["human_pose_maps"][:, :, window])
    pipe = DPIDMTryOnPipeline(model, device=device, dtype=torch.float32)
    garment = pipe.encode_garment(sample["garment_pixels"], sample["garment_pose_map"], guided=True)
    latents = pipe(
        conditions,
        garment,
        steps=settings.inference_steps,
        guidance=settings.guidance_scale,
        seed=0,
        windows=[slice(0, frames)],
    )
    generated = decode_latents(model.vae, latents)[0]
    model.train(was_training)

    panels = [to_uint8(sample["pixel_values"][0]), to_uint8(sample["agnostic_pixels"][0]), to_uint8(generated)]
    strip = np.concatenate(panels, axis=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, list(strip), fps=8)
    if writer is not None:
        writer.add_image("validation/first_frame", strip[0], step, dataformats="HWC")
    return path
