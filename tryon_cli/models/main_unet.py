"""The main U-Net: diffusers' SD1.5 inpainting `UNet2DConditionModel` whose transformer blocks run DPIDM's
PASA -> TSA -> CA -> PATA -> FF, plus the pose encoder; video latents in, noise out.

The U-Net stays a `UNet2DConditionModel` (config and SD1.5 parameter names unchanged); only its transformer blocks
are replaced by `DPIDMTransformerBlock`s that hold the original sub-modules. New parameters (the `DPIDMDelta`'s
modules, registered here where they run): `pose_encoder.*` and, per block, `pasa_adapter.*`, `tsa.*`, `pata.*`.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from einops import rearrange
from torch import nn

from tryon_cli.models.attention.backend import AttnProcessor
from tryon_cli.models.attention.pasa import QueriesKeysRecorder
from tryon_cli.models.delta import DPIDMDelta
from tryon_cli.models.garment_bank import GarmentConditions, transformer_block_names
from tryon_cli.models.pose_encoder import level_grids
from tryon_cli.models.transformer_block import DPIDMTransformerBlock, FrameContext

TRA_LAYER_COUNT = 2
"""The TRA loss reads the PASA attention of the last two decoder layers (paper 3.5)."""


def block_level(name: str, levels: int) -> int:
    """The resolution level of a transformer block from its name (`down_blocks.i`, `mid_block`, `up_blocks.i`)."""
    parts = name.split(".")
    if parts[0] == "down_blocks":
        return int(parts[1])
    if parts[0] == "mid_block":
        return levels - 1
    return levels - 1 - int(parts[1])


def inpainting_input(noisy_latents: torch.Tensor, mask: torch.Tensor, agnostic_latents: torch.Tensor) -> torch.Tensor:
    """The 9-channel main U-Net input in the channel order SD1.5-inpainting weights were trained with:
    [noisy latent (4), mask (1, 1 = repaint, at latent resolution), masked-image latent (4)] on dim 1."""
    return torch.cat([noisy_latents, mask.to(noisy_latents.dtype), agnostic_latents], dim=1)


class MainUNet(nn.Module):
    def __init__(self, unet: UNet2DConditionModel, delta: DPIDMDelta):
        super().__init__()
        self.unet = unet
        self.levels = len(unet.config.block_out_channels)
        self.pose_encoder = delta.pose_encoder  # None in ablation variant (a)
        unet.set_attn_processor(AttnProcessor())
        self.block_names = transformer_block_names(unet)
        if tuple(self.block_names) != delta.block_names:
            raise ValueError("the DPIDM delta was built for another U-Net structure")
        for name in self.block_names:
            parent_name, index = name.rsplit(".", 1)
            parent = unet.get_submodule(parent_name)
            parent[int(index)] = DPIDMTransformerBlock(
                parent[int(index)], name=name, level=block_level(name, self.levels), delta=delta.block(name)
            )
        decoder_blocks = [name for name in self.block_names if name.startswith("up_blocks.")]
        self.tra_layer_names: tuple[str, ...] = tuple(decoder_blocks[-TRA_LAYER_COUNT:])

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int | float,
        garment: GarmentConditions,
        human_pose_maps: torch.Tensor | None = None,
        use_temporal: bool = True,
        *,
        use_tsa: bool | None = None,
        use_pata: bool | None = None,
        return_tra_inputs: bool = False,
    ):
        """Predict the noise of a window of video latents.

        sample: (B, 9, T, h, w), see `inpainting_input` for the channel order.
        timestep: a number, or (B,) per sample (the same for all frames of a sample).
        garment: from `GarmentEncoder.encode` (`DPIDM.garment_encoder`), batch B.
        human_pose_maps: (B, 3, T, 8h, 8w) rendered pose maps in [0, 1], or None for no pose.
        use_temporal: run TSA and PATA (video); False for single images (the image phase of training).
        use_tsa, use_pata: override `use_temporal` per module.
        return_tra_inputs: also return {block name: `QueriesKeys`} of the last two decoder layers'
            PASA (`tra_layer_names`): queries (B, T, heads, N_h, d) and keys (B, T, heads, N_h + N_g, d), from
            which `training.losses.tra_loss` computes Eq. 6 without ever holding a whole attention map. Every
            layer's output still comes from the fast attention kernel.

        Returns the predicted noise (B, 4, T, h, w), or (noise, tra_inputs) with `return_tra_inputs`.
        """
        batch, _, frames, height, width = sample.shape
        if garment.batch_size != batch:
            raise ValueError(f"garment conditions have batch {garment.batch_size}, the sample has {batch}")
        grids = level_grids(height, width, self.levels)
        timesteps = torch.as_tensor(timestep, device=sample.device)
        timesteps = timesteps.expand(batch) if timesteps.ndim == 0 else timesteps
        human_pose = None
        if human_pose_maps is not None and self.pose_encoder is not None:
            human_pose = self.pose_encoder.pyramid(rearrange(human_pose_maps, "b c t h w -> (b t) c h w"), grids)
        ctx = FrameContext(
            frames=frames,
            grids=grids,
            garment=garment,
            human_pose=human_pose,
            use_tsa=use_temporal if use_tsa is None else use_tsa,
            use_pata=use_temporal if use_pata is None else use_pata,
        )
        recorder = QueriesKeysRecorder()
        tra_blocks = [self.unet.get_submodule(name) for name in self.tra_layer_names] if return_tra_inputs else []
        with recorder.attached(tra_blocks):
            noise = self.unet(
                rearrange(sample, "b c t h w -> (b t) c h w"),
                timesteps.repeat_interleave(frames),
                encoder_hidden_states=garment.image_embeds.repeat_interleave(frames, dim=0),
                cross_attention_kwargs={"dpidm": ctx},
            ).sample
        noise = rearrange(noise, "(b t) c h w -> b c t h w", t=frames)
        return (noise, recorder.recorded) if return_tra_inputs else noise
