"""Named DPIDM configurations: `sd15` (the real dimensions) and `tiny` (CPU tests, seconds per step).

A configuration has two parts. The pretrained parts (the two U-Nets, the VAE, the CLIP image encoder, the
scheduler) are plain diffusers / transformers config dicts, so `sd15` matches the `config.json` files of the SD1.5
folders. `delta` holds the settings of the modules DPIDM adds (pose encoder, pose adapters, TSA, PATA) where they
differ from `DPIDMDelta`'s defaults; a DPIDM checkpoint's `config.json` (the delta's) records them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DPIDMConfig:
    """Everything needed to build a DPIDM model without weights."""

    name: str
    main_unet: dict
    garment_unet: dict
    vae: dict
    image_encoder: dict
    scheduler: dict
    delta: dict = field(default_factory=dict)
    """Settings of DPIDM's own modules that differ from `DPIDMDelta`'s defaults (the SD1.5 ones)."""
    pixel_vae: bool = False
    """The VAE's weights set to the fixed colour-keeping autoencoder of `pixel_vae` instead of drawn at random."""


def _sd15_unet(in_channels: int) -> dict:
    return {
        "sample_size": 64,
        "in_channels": in_channels,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "block_out_channels": [320, 640, 1280, 1280],
        "layers_per_block": 2,
        "attention_head_dim": 8,
        "cross_attention_dim": 768,
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
        "act_fn": "silu",
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "downsample_padding": 1,
        "mid_block_scale_factor": 1,
        "center_input_sample": False,
    }


def _vae(block_out_channels: list[int], layers_per_block: int, norm_num_groups: int, sample_size: int) -> dict:
    # Four blocks: the latent is 1/8 of the image, which the pose encoder and the pipeline rely on.
    return {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": block_out_channels,
        "layers_per_block": layers_per_block,
        "latent_channels": 4,
        "norm_num_groups": norm_num_groups,
        "sample_size": sample_size,
        "scaling_factor": 0.18215,
    }


# SD1.5's DDIM settings (the scheduler_config.json of the SD1.5 repositories).
_SD15_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}

# What the main U-Net predicts and on which noise schedule: a property of the trained weights, so a checkpoint records
# its choice (`DPIDMDelta.noise_schedule`) and `DPIDM` applies it over the base's scheduler settings above.
NOISE_SCHEDULES = {
    # SD1.5's, the paper's: epsilon prediction; SD1.5's pretrained U-Nets predict it.
    "sd15": {},
    # Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed": betas rescaled so that the
    # last timestep holds no signal (SD1.5's keeps sqrt(alpha_bar) = 0.068 of it), v-prediction (at that timestep
    # the target is the clean latent, which must then come from the conditions: the garment), and DDIM timesteps
    # that start at the last one. For a base trained from scratch (the tiny model, docs/training.md: "Does it
    # learn?"), where epsilon prediction barely trains the garment branch.
    "zero_snr_v": {"prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"},
}


def scheduler_settings(config: "DPIDMConfig", noise_schedule: str) -> dict:
    """The diffusers DDIM settings of `config`'s base under `noise_schedule` (a key of NOISE_SCHEDULES)."""
    return {**config.scheduler, **NOISE_SCHEDULES[noise_schedule]}


SD15 = DPIDMConfig(
    name="sd15",
    main_unet=_sd15_unet(9),
    garment_unet=_sd15_unet(4),
    vae=_vae([128, 256, 512, 512], layers_per_block=2, norm_num_groups=32, sample_size=512),
    # CLIP ViT-L/14: its 768-d projection is SD1.5's cross_attention_dim.
    image_encoder={
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 224,
        "patch_size": 14,
        "projection_dim": 768,
        "hidden_act": "quick_gelu",
    },
    scheduler=_SD15_SCHEDULER,
)


def _tiny_unet(in_channels: int) -> dict:
    # Two resolution levels, cross-attention in every block: 7 transformer blocks, 4 of them in the decoder, so
    # "the last two decoder layers" is a strict subset.
    return {
        "sample_size": 8,
        "in_channels": in_channels,
        "out_channels": 4,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "block_out_channels": [32, 64],
        "layers_per_block": 1,
        "attention_head_dim": 4,
        "cross_attention_dim": 32,
        "norm_num_groups": 8,
    }


TINY = DPIDMConfig(
    name="tiny",
    main_unet=_tiny_unet(9),
    garment_unet=_tiny_unet(4),
    # A random VAE returns noise for any latent, so the tiny base's is the fixed colour-keeping one (`pixel_vae`):
    # one width at every level and norm groups of 4 channels, which that construction needs.
    vae=_vae([16, 16, 16, 16], layers_per_block=1, norm_num_groups=4, sample_size=64),
    pixel_vae=True,
    image_encoder={
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
        "projection_dim": 32,
    },
    scheduler=_SD15_SCHEDULER,
    # No text tower to take an empty-prompt context from, and a random garment U-Net has no distribution to stay
    # in: the tiny garment U-Net reads the CLIP image token (the same code path as before that choice existed).
    delta={"pose_encoder_channels": (8, 16, 16), "pose_adapter_dim": 8, "garment_context": "clip_image"},
)

CONFIGS = {"sd15": SD15, "tiny": TINY}


def get_config(name: str) -> DPIDMConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown DPIDM configuration {name!r}; choose one of {', '.join(CONFIGS)}") from None
