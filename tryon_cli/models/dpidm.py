"""The DPIDM model: the holder of its components, in the manner of a diffusers pipeline's, and its constructors.

    model = DPIDM.from_pretrained(weights_root, checkpoint=path_or_None)     # or DPIDM.from_config("tiny")
    garment = model.garment_encoder.encode(garment_pixels, garment_pose_map)      # once per garment
    noise = model.main_unet(sample, t, garment=garment, human_pose_maps=pose_maps)   # every step, every window
    latents = encode_latents(model.vae, pixels)                                   # models/vae.py

Shapes: garment_pixels (B, 3, H, W) in [-1, 1]; pose maps in [0, 1], (B, 3, H, W) for the garment and
(B, 3, T, H, W) for the person; video latents (B, C, T, h, w) with h = H/8, w = W/8.

Components (`components`): `main_unet` (`MainUNet`: SD1.5-inpainting U-Net with PASA/TSA/CA/PATA blocks and the
pose encoder), `garment_unet` (`GarmentUNet`: SD1.5 U-Net filling the feature bank), `vae` (diffusers
`AutoencoderKL`), `image_encoder` (transformers `CLIPVisionModelWithProjection`), `noise_scheduler` (diffusers
`DDIMScheduler` with SD1.5's settings, or the zero-terminal-SNR v-prediction ones of the delta's `noise_schedule`;
it also has `add_noise` for training) and `delta` (`DPIDMDelta`: DPIDM's
trainable modules, which also saves and loads checkpoints). `garment_encoder` (`GarmentEncoder`) turns garment
photos into the main U-Net's garment conditions with the garment U-Net, CLIP, the VAE and the pose encoder.

Training phases (paper 3.6): "image" trains PASA (`attn1` + `pasa_adapter` + the pose encoder) and CA (`attn2`)
of the main U-Net; "video" trains TSA and PATA. The garment U-Net, VAE and CLIP encoder stay frozen. A delta with
`trains_base` (the tiny test model under `train.trainable=all`) adds the rest of both U-Nets to both phases.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from tryon_cli.models import checkpoint as checkpoint_io
from tryon_cli.models import pretrained
from tryon_cli.models.attention.backend import AttentionBackend
from tryon_cli.models.configs import DPIDMConfig, get_config, scheduler_settings
from tryon_cli.models.delta import PHASES, DPIDMDelta, new_delta
from tryon_cli.models.garment_bank import GarmentEncoder, GarmentUNet
from tryon_cli.models.main_unet import MainUNet
from tryon_cli.models.pixel_vae import make_pixel_autoencoder

# The seed of the tiny model's random frozen base, shared by training and inference (see `from_config`).
TINY_BASE_SEED = 0


class DPIDM(nn.Module):
    """DPIDM's components (see the module's docstring), their constructors, and which parameters train when."""

    def __init__(
        self,
        config: DPIDMConfig,
        main_unet: UNet2DConditionModel,
        garment_unet: UNet2DConditionModel,
        vae: AutoencoderKL,
        image_encoder: CLIPVisionModelWithProjection,
        delta: DPIDMDelta,
    ):
        """Wraps plain diffusers / transformers parts (pretrained or not) and wires in DPIDM's modules (`delta`).

        `delta` is kept as a plain attribute, not a registered child: its modules are registered where they run
        (inside `main_unet`), so parameter names stay SD1.5's and nothing is counted twice; `model.delta` is the
        checkpoint's view of them (`save_checkpoint` / `load_checkpoint`)."""
        super().__init__()
        self.config = config
        object.__setattr__(self, "delta", delta)
        self.main_unet = MainUNet(main_unet, delta)
        self.garment_unet = GarmentUNet(garment_unet, delta.context, timestep=delta.config.garment_timestep)
        self.vae = vae
        self.image_encoder = image_encoder
        self.noise_scheduler = DDIMScheduler(**scheduler_settings(config, delta.config.noise_schedule))
        self.garment_encoder = GarmentEncoder(
            self.garment_unet, image_encoder, vae, self.main_unet.pose_encoder, self.main_unet.levels
        )
        delta.attach_base(main_unet=self.main_unet.unet, garment_unet=self.garment_unet.unet)
        self.load_report: pretrained.LoadReport | None = None
        for frozen in (self.garment_unet, self.vae, self.image_encoder):
            frozen.requires_grad_(False)
        self.attention_backend = AttentionBackend()
        for module in self.modules():  # one backend object for every attention layer of this model
            processor = getattr(module, "processor", None)
            if hasattr(processor, "backend"):
                processor.backend = self.attention_backend

    # ---- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: str | DPIDMConfig = "sd15", *, seed: int | None = None, variant: str = "d", **settings
    ) -> "DPIDM":
        """Build with random weights (no files read): `"tiny"` for tests, `"sd15"` for the real dimensions;
        `variant` is a row of the paper's Table 4 (`delta.VARIANTS`; "d" is DPIDM); `settings` override the
        base's module hyper-parameters (`DPIDMDelta` arguments, e.g. `pata_pose_in_residual=False`).

        With `seed`, the weights are drawn from that seed without touching the global random state, so the same
        model can be rebuilt later: `dpidm train --model tiny` and `dpidm tryon --model tiny` share a frozen base
        (TINY_BASE_SEED) that way, since a checkpoint holds only DPIDM's trained modules."""
        config = get_config(config) if isinstance(config, str) else config
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            return cls(
                config,
                UNet2DConditionModel(**config.main_unet),
                UNet2DConditionModel(**config.garment_unet),
                make_pixel_autoencoder(AutoencoderKL(**config.vae))
                if config.pixel_vae
                else AutoencoderKL(**config.vae),
                CLIPVisionModelWithProjection(CLIPVisionConfig(**config.image_encoder)),
                new_delta(config, "sd15" if config.name == "sd15" else "tiny", {**settings, "variant": variant}),
            )

    @classmethod
    def from_pretrained(
        cls,
        weights_root: str | Path | None = None,
        checkpoint: str | Path | None = None,
        *,
        variant: str = "d",
        dtype: torch.dtype = torch.float32,
    ) -> "DPIDM":
        """SD1.5 parts from diffusers-format folders under `weights_root` (default `$DPIDM_WEIGHTS` or
        `weights/`; the manifest entries `sd15-inpainting`, `sd15`, `clip-image-encoder`), then DPIDM's weights from
        `checkpoint` (anything `resolve_checkpoint` accepts; its variant wins) if given, else freshly initialised
        DPIDM modules of `variant`.

        Raises MissingWeightsError naming the first missing file, InputError when a folder's weights do not fit.
        `model.load_report` says what came from where and lists the new (not pretrained) parameters.
        """
        root = None if weights_root is None else Path(weights_root)
        info = None if checkpoint is None else checkpoint_io.resolve_checkpoint(checkpoint, base="sd15")
        parts = pretrained.load_parts(root, dtype, empty_prompt=info is None)
        sd15 = get_config("sd15")
        config = DPIDMConfig(
            name="pretrained",
            main_unet=dict(parts.main_unet.config),
            garment_unet=dict(parts.garment_unet.config),
            vae=dict(parts.vae.config),
            image_encoder=parts.image_encoder.config.to_dict(),
            scheduler=sd15.scheduler,
            delta=sd15.delta,
        )
        delta = new_delta(config, "sd15", {"variant": variant} if info is None else checkpoint_io.build_settings(info))
        model = cls(config, parts.main_unet, parts.garment_unet, parts.vae, parts.image_encoder, delta).to(dtype)
        model.load_report = pretrained.LoadReport.of(model, model.delta, parts.loaded)
        if parts.empty_prompt is not None and model.delta.context.tokens is not None:
            model.delta.context.tokens.copy_(parts.empty_prompt)  # computed once, kept with the checkpoint
        if info is not None:
            model.delta.load_checkpoint(info.folder, info.config)
        return model

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | Path,
        *,
        base: str | None = None,
        weights_root: str | Path | None = None,
        dtype: torch.dtype = torch.float32,
        seed: int = TINY_BASE_SEED,
    ) -> "DPIDM":
        """The model a checkpoint belongs to, with its weights: base, variant and module settings from its
        config.json (a tiny checkpoint gets the tiny frozen base drawn from `seed`, the one training uses by
        default; an sd15 one the SD1.5 weights under `weights_root`). `base`: InputError unless the checkpoint's."""
        info = checkpoint_io.resolve_checkpoint(checkpoint, base=base)
        if info.base == "sd15":
            return cls.from_pretrained(weights_root, info.folder, dtype=dtype)
        model = cls.from_config("tiny", seed=seed, **checkpoint_io.build_settings(info))
        model.delta.load_checkpoint(info.folder, info.config)
        return model.to(dtype)

    # ---- runtime ------------------------------------------------------------------------------------------------

    @property
    def components(self) -> dict[str, object]:
        """The parts by name, as a diffusers pipeline's `components`."""
        names = ("main_unet", "garment_unet", "vae", "image_encoder", "noise_scheduler", "delta")
        return {name: getattr(self, name) for name in names}

    @property
    def device(self) -> torch.device:
        return next(self.main_unet.parameters()).device

    @property
    def variant(self) -> str:
        return self.delta.config.variant

    @property
    def uses_tra(self) -> bool:
        """Whether this variant trains with the TRA loss (Eq. 6): (c) and (d) differ only in this."""
        return self.delta.variant_row.tra

    def set_attention_backend(self, name: str) -> None:
        """ "auto" (xformers on CUDA when it runs, else SDPA), "sdpa" or "xformers", for this model only."""
        self.attention_backend.set(name)

    def enable_gradient_checkpointing(self) -> None:
        """Recompute the main U-Net's activations in the backward pass (the only part that trains)."""
        self.main_unet.unet.enable_gradient_checkpointing()

    def disable_gradient_checkpointing(self) -> None:
        self.main_unet.unet.disable_gradient_checkpointing()

    # ---- training phases ----------------------------------------------------------------------------------------

    def checkpoint_parameters(self) -> dict[str, nn.Parameter]:
        """The parameters a checkpoint holds: the union of both phases, by name (relative to this model)."""
        return {name: p for phase in PHASES for name, p in self.named_trainable_parameters(phase).items()}

    def named_trainable_parameters(self, phase: str) -> dict[str, nn.Parameter]:
        """Name (relative to this model) -> parameter, for the modules that train in `phase` ("image" or "video")."""
        wanted = self.delta.named_phase_parameters(phase)
        names = {id(p): name for name, p in self.named_parameters(remove_duplicate=False)}
        return {names[id(p)]: p for p in wanted.values()}

    def trainable_parameters(self, phase: str) -> list[nn.Parameter]:
        return list(self.named_trainable_parameters(phase).values())

    def set_trainable(self, phase: str) -> None:
        """requires_grad on exactly the parameters of `phase`, off everywhere else."""
        self.requires_grad_(False)
        for p in self.trainable_parameters(phase):
            p.requires_grad_(True)

    # ---- shortcuts into the main U-Net ---------------------------------------------------------------------------

    @property
    def pose_encoder(self) -> nn.Module | None:
        """The pose encoder, shared by human and garment pose maps (it lives in `main_unet`); None in variant (a)."""
        return self.main_unet.pose_encoder

    @property
    def tra_layer_names(self) -> tuple[str, ...]:
        """Names of the blocks whose PASA attention the TRA loss reads (the last two decoder transformer blocks)."""
        return self.main_unet.tra_layer_names
