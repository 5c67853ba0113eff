"""`DPIDMEngine`: the paper's DPIDM as an engine of the video application (crop-space in, crop-space out).

`generate` encodes every frame of the clip (agnostic latents and the latent-size mask, `VideoConditions`), the
garment once, runs the sliding-window DDIM of `DPIDMTryOnPipeline` (pose maps drawn per window from the
keypoints) and yields the decoded crops in order.
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import islice
from typing import Iterator

import numpy as np
import torch

from tryon_cli.engines.base import CropClip, Progress
from tryon_cli.engines.dpidm_sampling import DPIDMSampling
from tryon_cli.errors import SettingError
from tryon_cli.pipelines.dpidm_pipeline import DPIDMTryOnPipeline
from tryon_cli.pipelines.sliding_window import window_schedule
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess.conditioning import GarmentInput

# Frames per VAE call and per streamed chunk: bounds the pixels held at once.
CHUNK = 8


class DPIDMEngine:
    """DPIDM with a built model (see `engines.build_engine`)."""

    name = "dpidm"

    def __init__(
        self,
        model,
        *,
        sampling: DPIDMSampling = DPIDMSampling(),
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        untrained: bool = False,
        test_model: bool = False,
        description: str = "DPIDM",
    ):
        self.pipeline = DPIDMTryOnPipeline(model.to(device=device, dtype=dtype).eval(), device=device, dtype=dtype)
        self.sampling = sampling
        self.untrained = untrained
        self.test_model = test_model or untrained  # a tiny base, trained or not: its output is not a try-on
        self.description = description

    @property
    def model(self):
        return self.pipeline.model

    def metadata(self) -> dict:
        return {"model": self.description, "test_model": self.test_model, **asdict(self.sampling)}

    def check_size(self, height: int, width: int) -> None:
        factor = self.pipeline.vae_factor
        if height % factor or width % factor:
            raise SettingError("height", f"and width must be multiples of {factor}, got {height}x{width}")

    def generate(self, clip: CropClip, garment: GarmentInput, progress: Progress) -> Iterator[np.ndarray]:
        pipe, sampling = self.pipeline, self.sampling
        self.check_size(clip.height, clip.width)
        windows = window_schedule(clip.num_frames, sampling.window, sampling.overlap)
        conditions = self._encode_clip(clip, progress)
        with progress.task("garment encoding", total=1) as advance:
            pixels, pose = conditioning.garment_tensors(garment)
            garment_conditions = pipe.encode_garment(pixels, pose, guided=sampling.guidance != 1.0)
            advance()
        description = f"denoising ({len(windows)} windows x {sampling.steps} steps)"
        with progress.task(description, total=sampling.steps) as advance:
            latents = self._sample(conditions, garment_conditions, windows, lambda step, t, latents: advance())
        del conditions
        for pixels in pipe.decode(latents, CHUNK):
            yield from conditioning.to_uint8(pixels[0])

    def _sample(self, conditions, garment_conditions, windows: list[slice], callback) -> torch.Tensor:
        """The clip's latents; `callback(step, t, latents)` after each step (`sampling.sample`)."""
        sampling = self.sampling
        return self.pipeline(
            conditions,
            garment_conditions,
            steps=sampling.steps,
            guidance=sampling.guidance,
            seed=sampling.seed,
            windows=windows,
            weighting=sampling.weighting,
            callback=callback,
        )

    def _encode_clip(self, clip: CropClip, progress: Progress):
        poses = clip.poses()
        height, width = clip.height, clip.width

        def pose_maps(window: slice) -> torch.Tensor:
            return conditioning.pose_maps_tensor(poses[window], height, width)

        conditions = self.pipeline.empty_conditions(clip.num_frames, height, width, pose_maps)
        size = conditions.agnostic_latents.shape[-2:]
        frames = iter(clip.frames())
        try:
            with progress.task("encoding frames", total=clip.num_frames) as advance:
                first = 0
                while chunk := list(islice(frames, CHUNK)):
                    agnostic, masks = conditioning.frame_tensors(chunk, size)
                    self.pipeline.encode_frames(conditions, first, agnostic, masks)
                    first += len(chunk)
                    advance(len(chunk))
        finally:
            # Stops the clip's decoder now, not in a finaliser (an interrupt then must reach the caller).
            getattr(frames, "close", lambda: None)()
        return conditions
