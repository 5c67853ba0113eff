"""One forward pass of the training objective (section 3.6, Eq. 7) on a batch from `TryOnDataset`.

Image steps: the clip is one frame, TSA and PATA are skipped (`use_temporal=False`), lambda = 0.
Video steps: T frames, the whole block, lambda = 1e-3 with TRA on the last two decoder layers' PASA maps.
Variants a-c of Table 4 (`model.uses_tra` False) train with lambda = 0 in both phases.
"""

from __future__ import annotations

import torch

from tryon_cli.data.sampler import VIDEO
from tryon_cli.models import inpainting_input
from tryon_cli.models.vae import encode_latents
from tryon_cli.preprocess.conditioning import latent_mask
from tryon_cli.training.config import LossConfig
from tryon_cli.training.losses import diffusion_target, ldm_loss, tra_loss


def diffusion_losses(model, batch: dict, phase: str, loss: LossConfig, generator: torch.Generator) -> dict:
    """{"loss", "mse", "tra"} for one batch; noise and timesteps come from `generator` (on the CPU, so a seed
    gives the same draws on every device)."""
    device = model.device
    with torch.no_grad():
        latents = encode_latents(model.vae, batch["pixel_values"].to(device), sample=True).float()
        agnostic = encode_latents(model.vae, batch["agnostic_pixels"].to(device)).float()
    mask = latent_mask(batch["mask"].to(device), latents.shape[-2:]).float()
    scheduler = model.noise_scheduler
    noise = torch.randn(latents.shape, generator=generator).to(device)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator).to(
        device
    )
    noisy = scheduler.add_noise(latents, noise, timesteps)

    garment = model.garment_encoder.encode(
        batch["garment_pixels"].to(device), batch["garment_pose_map"].to(device), drop=batch["drop_garment"].to(device)
    )
    weight = (loss.tra_weight_video if phase == VIDEO else loss.tra_weight_image) if model.uses_tra else 0.0
    want_maps = weight > 0 and latents.shape[2] > 1
    out = model.main_unet(
        inpainting_input(noisy, mask, agnostic),
        timesteps,
        garment=garment,
        human_pose_maps=batch["human_pose_maps"].to(device),
        use_temporal=phase == VIDEO,
        return_tra_inputs=want_maps,
    )
    prediction, maps = out if want_maps else (out, None)
    mse = ldm_loss(prediction, diffusion_target(scheduler, latents, noise, timesteps))
    tra = tra_loss([maps[name] for name in model.tra_layer_names], loss.tra_gammas) if want_maps else mse.new_zeros(())
    return {"loss": mse + weight * tra, "mse": mse, "tra": tra}
