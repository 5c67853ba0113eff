"""`PassthroughEngine`: DPIDM with its denoiser replaced by the identity (the "denoised" latents are the agnostic
latents). A stand-in for measuring everything but the U-Net on long videos: pose, masks, crops, VAE encoding,
the whole-clip latents, decoding, paste-back and writing are all real. Not offered by `--model`."""

from __future__ import annotations

import torch

from tryon_cli.engines.dpidm import DPIDMEngine


class PassthroughEngine(DPIDMEngine):
    name = "passthrough"

    def _sample(self, conditions, garment_conditions, windows: list[slice], callback) -> torch.Tensor:
        latents = conditions.agnostic_latents.float()  # whole-clip float32, as the noisy latents are
        for step in range(self.sampling.steps):
            callback(step, torch.tensor(0), latents)
        return latents
