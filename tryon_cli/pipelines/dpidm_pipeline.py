"""`DPIDMTryOnPipeline`: DPIDM's sampling as tensors in, tensors out (paper section 3.6).

What the video application and its files are is not here (`tryon_cli/tryon/`, `engines/dpidm.py`): this module
takes the conditions of a clip (agnostic latents, the latent-size mask, a pose-map source) and the garment
conditions (`model.garment_encoder`, computed ONCE per video: the CLIP embedding and the garment U-Net's feature
bank serve every window and every step), and returns the clip's latents.

The loop is `sampling.sample` (steps outer, one scheduler step on the whole clip per timestep; DDIM by default,
any diffusers scheduler accepted); the model function it calls is `windowed_noise`: every window of the clip
denoised with classifier-free guidance, the windows' predictions averaged frame by frame (`sliding_window`) into
one whole-clip noise tensor. Across the loop a run holds per frame the noisy latents, that noise, the agnostic
latents and the mask (`VideoConditions.nbytes`, `retained_bytes`); a multistep scheduler adds its history.

Where the whole-clip tensors live (`storage`): on the model's device when they take under a quarter of its free
memory, else in CPU memory with one window at a time moved to the device (`latent_storage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from diffusers import DDIMScheduler

from tryon_cli.models.main_unet import inpainting_input
from tryon_cli.models.vae import decode_latents, encode_latents
from tryon_cli.pipelines.sampling import Callback, guided_noise, sample
from tryon_cli.pipelines.sliding_window import frame_weights

# Of the device's free memory, the share whole-clip latents may take before they are kept in CPU memory.
DEVICE_SHARE = 0.25


def latent_storage(device: torch.device, nbytes: int) -> torch.device:
    """Where whole-clip latents of `nbytes` are kept: the device if they fit easily, else the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return device if nbytes < DEVICE_SHARE * free else torch.device("cpu")
    return device


@dataclass
class VideoConditions:
    """What every denoising step needs about the N frames of a clip, compactly."""

    agnostic_latents: torch.Tensor  # (1, 4, N, h, w) in the compute dtype (what the U-Net sees: lossless)
    mask_latents: torch.Tensor  # (1, 1, N, h, w) bool, True = repaint
    pose_maps: Callable[[slice], torch.Tensor]  # frames of a window -> (1, 3, T, H, W) in [0, 1], made on demand

    @property
    def num_frames(self) -> int:
        return self.agnostic_latents.shape[2]

    def nbytes(self) -> int:
        return sum(t.element_size() * t.nelement() for t in (self.agnostic_latents, self.mask_latents))


def retained_bytes(conditions: VideoConditions) -> int:
    """Whole-clip bytes held across the denoising loop (DDIM): the conditions, the float32 noisy latents and the
    float32 noise prediction of a step."""
    return conditions.nbytes() + 2 * 4 * conditions.agnostic_latents.nelement()


class DPIDMTryOnPipeline:
    """DPIDM inference on tensors: `encode_*` the inputs, call it for latents, `decode` them."""

    def __init__(self, model, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        """`model` is used where it is (training's validation shares it); `dtype` is the U-Net input's dtype."""
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        # The VAE's downsampling factor: pixels per latent cell along each side.
        self.vae_factor = 2 ** (len(model.vae.config.block_out_channels) - 1)

    # -- inputs -------------------------------------------------------------------------------------------------

    def empty_conditions(
        self, num_frames: int, height: int, width: int, pose_maps: Callable[[slice], torch.Tensor]
    ) -> VideoConditions:
        """Conditions to be filled by `encode_frames`, placed by `latent_storage`."""
        h, w = height // self.vae_factor, width // self.vae_factor
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        storage = latent_storage(self.device, num_frames * h * w * (4 * itemsize + 1 + 4 * 4))
        return VideoConditions(
            torch.empty(1, 4, num_frames, h, w, dtype=self.dtype, device=storage),
            torch.empty(1, 1, num_frames, h, w, dtype=torch.bool, device=storage),
            pose_maps,
        )

    @torch.no_grad()
    def encode_frames(
        self, conditions: VideoConditions, first: int, agnostic_pixels: torch.Tensor, mask_latents: torch.Tensor
    ) -> None:
        """Frames first.. of the clip: agnostic pixels (1, 3, t, H, W) in [-1, 1] -> latents; their (t, h, w) masks."""
        frames = slice(first, first + agnostic_pixels.shape[2])
        latents = encode_latents(self.model.vae, agnostic_pixels.to(self.device, self.dtype)).float()
        conditions.agnostic_latents[:, :, frames] = latents.to(conditions.agnostic_latents)
        conditions.mask_latents[0, 0, frames] = mask_latents.to(conditions.mask_latents.device)

    @torch.no_grad()
    def encode_garment(self, pixels: torch.Tensor, pose_map: torch.Tensor, guided: bool):
        """Garment conditions from ONE garment U-Net run: [dropped; real] when guided, else the real ones alone.

        pixels (1, 3, H, W) in [-1, 1], pose_map (1, 3, H, W) in [0, 1], both float32: the model casts to each
        part's dtype after its own resizing (CLIP's antialiased bicubic resize has no bf16 kernel on the CPU)."""
        garment_encoder = self.model.garment_encoder
        encode = garment_encoder.encode_for_guidance if guided else garment_encoder.encode
        return encode(pixels.to(self.device), pose_map.to(self.device))

    # -- sampling -----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        conditions: VideoConditions,
        garment,
        *,
        steps: int,
        guidance: float,
        seed: int,
        windows: list[slice],
        weighting: str = "flat",
        scheduler=None,
        callback: Callback | None = None,
    ) -> torch.Tensor:
        """From seeded noise to the clip's latents (1, 4, N, h, w) float32, where the conditions are kept.

        `scheduler`: a diffusers scheduler (a fresh one: it keeps state), default DDIM with the model's settings.
        The noise is drawn on the CPU from `seed`, so a seed gives the same result on every device. `callback(step,
        t, latents)` is called after each step."""
        storage = conditions.agnostic_latents.device
        if scheduler is None:
            scheduler = DDIMScheduler.from_config(self.model.noise_scheduler.config)
        scheduler.set_timesteps(steps, device=storage)
        shape = conditions.agnostic_latents.shape
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
        latents = noise.to(storage) * scheduler.init_noise_sigma
        del noise
        weights = frame_weights(conditions.num_frames, windows, weighting)  # type: ignore[arg-type]

        def model_fn(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.windowed_noise(latents, t, conditions, garment, guidance, windows, weights)

        return sample(model_fn, latents, scheduler.timesteps, scheduler, callback)

    def windowed_noise(self, latents, t, conditions, garment, guidance, windows, weights) -> torch.Tensor:
        """The whole clip's noise at `t`: each window's guided prediction, weighted (`frame_weights`: a frame's
        weights sum to one) and summed into one float32 tensor where the latents are kept."""
        noise = torch.zeros_like(latents, dtype=torch.float32)
        for window, weight in zip(windows, weights):
            window_noise = self._window_noise(latents, t, conditions, garment, guidance, window)
            scale = torch.as_tensor(weight, dtype=torch.float32, device=window_noise.device).view(1, 1, -1, 1, 1)
            noise[:, :, window].add_((window_noise * scale).to(noise.device))
        return noise

    def _window_noise(self, latents, t, conditions, garment, guidance, window: slice) -> torch.Tensor:
        device = self.device
        # DDIM's `scale_model_input` is the identity, so the stored latents go in as they are.
        sample = inpainting_input(
            latents[:, :, window].to(device),
            conditions.mask_latents[:, :, window].to(device),
            conditions.agnostic_latents[:, :, window].to(device).float(),
        ).to(self.dtype)
        pose = conditions.pose_maps(window).to(device).to(self.dtype)
        # `garment` holds [dropped garment; garment] when guided (see `encode_garment` above).
        return guided_noise(self.model.main_unet, sample, t.to(device), garment, pose, guidance)

    # -- outputs ------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, chunk: int) -> Iterator[torch.Tensor]:
        """Latents (1, 4, N, h, w) -> pixels (1, 3, t, H, W) in [-1, 1], `chunk` frames at a time."""
        for first in range(0, latents.shape[2], chunk):
            yield decode_latents(self.model.vae, latents[:, :, first : first + chunk].to(self.device, self.dtype))
