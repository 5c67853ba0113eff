"""The garment branch: the garment U-Net that fills a feature bank, the `GarmentConditions` it produces, and the
`GarmentEncoder` that makes them from garment photos (`DPIDM.garment_encoder`).

The garment U-Net is SD1.5's U-Net run once on the garment latent (at the delta's `garment_timestep`, 0). Every
transformer block's PASA input f_g (the output of its `norm1`, i.e. exactly what that block's self-attention
reads) is recorded under the block's name, e.g. `up_blocks.1.attentions.0.transformer_blocks.0`; the main U-Net's
block of the same name reads it. Nothing after the last block's `norm1` is read by anyone, so the U-Net is built
without it (`GarmentUNet.unread`): the last block's container keeps its input norm and projection and the block
only its `norm1` (`_BankTail`); the block's attention and feed-forward, the container's output projection and
residual, and the U-Net's output layers (`conv_norm_out`, `conv_out`) are gone. The last module to run is the
last `norm1`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from tryon_cli.models.attention.backend import AttnProcessor
from tryon_cli.models.pose_encoder import PoseEncoder, level_grids
from tryon_cli.models.vae import encode_latents

# CLIP's input normalisation (the CLIPImageProcessor defaults of the ViT-L/14 release).
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_image_embeddings(image_encoder: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, 1, D) projected CLIP image embeddings of a `CLIPVisionModelWithProjection`.

    The whole image is resized to CLIP's square input (not centre-cropped: a crop would cut a garment photo's
    collar and hem), then normalised as CLIP expects."""
    size = image_encoder.config.image_size
    x = F.interpolate((pixels + 1) / 2, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    mean = x.new_tensor(_CLIP_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(_CLIP_STD).view(1, 3, 1, 1)
    x = ((x.clamp(0, 1) - mean) / std).to(image_encoder.dtype)
    return image_encoder(pixel_values=x).image_embeds.unsqueeze(1)


@dataclass
class GarmentConditions:
    """Everything the main U-Net needs from one batch of garments; computed once per garment, reused for every
    denoising step and every sliding window.

    `image_embeds`: (B, 1, D) CLIP image embedding of the garment, the cross-attention context (one token: the
    projected `image_embeds` of `CLIPVisionModelWithProjection`, whose width is SD1.5's cross_attention_dim).
    `features`: the feature bank, block name -> (B, N_l, C_l) garment U-Net tokens f_g; None means "no garment
    tokens" (PASA is then plain self-attention; used by the equivalence test).
    `pose`: garment pose tokens p_g per U-Net level, level -> (B, N_l, C_pose), or None without a garment pose.

    The unconditional condition for classifier-free guidance is a *dropped* garment (see
    `GarmentEncoder.encode(..., drop=...)`): zero CLIP embedding, the garment U-Net's features of an all-zero latent,
    and the pose tokens of an all-zero pose map. It has the same shapes as a real one, so conditional and
    unconditional samples share one batch (`GarmentConditions.cat`) and training can drop per sample.
    """

    image_embeds: torch.Tensor
    features: dict[str, torch.Tensor] | None = None
    pose: list[torch.Tensor] | None = None

    @property
    def batch_size(self) -> int:
        return self.image_embeds.shape[0]

    @staticmethod
    def cat(conditions: list["GarmentConditions"]) -> "GarmentConditions":
        """Concatenate along the batch (e.g. [unconditional, conditional] for classifier-free guidance)."""
        first = conditions[0]
        features = None
        if first.features is not None:
            features = {name: torch.cat([c.features[name] for c in conditions]) for name in first.features}
        pose = None
        if first.pose is not None:
            pose = [torch.cat([c.pose[i] for c in conditions]) for i in range(len(first.pose))]
        return GarmentConditions(torch.cat([c.image_embeds for c in conditions]), features, pose)

    def to(self, *args, **kwargs) -> "GarmentConditions":
        """Like `Tensor.to` for every tensor held."""
        return replace(
            self,
            image_embeds=self.image_embeds.to(*args, **kwargs),
            features=None if self.features is None else {k: v.to(*args, **kwargs) for k, v in self.features.items()},
            pose=None if self.pose is None else [p.to(*args, **kwargs) for p in self.pose],
        )


_SECTION_ORDER = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}


def _execution_order(name: str) -> tuple:
    section, *rest = name.split(".")
    return (_SECTION_ORDER[section], *(int(part) for part in rest if part.isdigit()))


def transformer_block_names(unet: UNet2DConditionModel) -> list[str]:
    """Names of the U-Net's transformer blocks in execution order: down blocks, mid block, up blocks (diffusers
    registers `mid_block` after `up_blocks`, so module order is not execution order)."""
    names = [name for name, module in unet.named_modules() if isinstance(module, BasicTransformerBlock)]
    return sorted(names, key=_execution_order)


class _Norm1Only(nn.Module):
    """A transformer block reduced to its `norm1` (the module under the block's name keeps the weight's name)."""

    def __init__(self, norm1: nn.Module):
        super().__init__()
        self.norm1 = norm1


class _BankTail(nn.Module):
    """The last attention container (a diffusers `Transformer2DModel` with one block) reduced to what the bank
    reads: its input norm and 1x1 projection to tokens, then the block's `norm1` (recorded by its forward hook, as
    every block's). Returns the container's input unchanged: what follows in the U-Net is only the output layers,
    which are gone too."""

    def __init__(self, container: nn.Module):
        super().__init__()
        if len(container.transformer_blocks) != 1 or container.use_linear_projection:
            raise ValueError("the garment U-Net's last attention must be SD1.5's: one block, a 1x1 conv proj_in")
        self.norm, self.proj_in = container.norm, container.proj_in
        self.transformer_blocks = nn.ModuleList([_Norm1Only(container.transformer_blocks[0].norm1)])

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> tuple[torch.Tensor]:
        batch, _, height, width = hidden_states.shape
        projected = self.proj_in(self.norm(hidden_states))
        tokens = projected.permute(0, 2, 3, 1).reshape(batch, height * width, projected.shape[1])
        self.transformer_blocks[0].norm1(tokens)
        return (hidden_states,)


class GarmentUNet(nn.Module):
    """SD1.5 U-Net used as a feature extractor: (B, 4, h, w) garment latents -> feature bank."""

    def __init__(self, unet: UNet2DConditionModel, context: nn.Module, timestep: int = 0):
        """`context`: CLIP image embeddings -> the cross-attention context (the delta's `GarmentContext`)."""
        super().__init__()
        self.unet = unet
        self.context = context
        self.timestep = timestep
        unet.set_attn_processor(AttnProcessor())
        self.block_names = transformer_block_names(unet)
        self._bank: dict[str, torch.Tensor] | None = None
        for name in self.block_names:
            unet.get_submodule(name).norm1.register_forward_hook(self._recorder(name))
        # Built without what no bank entry needs: the last container after its last norm1, and the output layers.
        container_name = self.block_names[-1].rsplit(".transformer_blocks.", 1)[0]
        container = unet.get_submodule(container_name)
        tail = _BankTail(container)
        kept = {name for name, _ in tail.named_modules()}
        self.unread = tuple(
            f"{container_name}.{name}"
            for name, _ in container.named_modules()
            if name not in kept and (name.rpartition(".")[0] in kept)
        )
        self.unread += ("conv_norm_out", "conv_out")
        parent_name, index = container_name.rsplit(".", 1)
        unet.get_submodule(parent_name)[int(index)] = tail
        unet.conv_norm_out, unet.conv_out = None, nn.Identity()  # diffusers skips a None conv_norm_out

    def _recorder(self, name: str):
        def record(_module, _inputs, output):
            if self._bank is not None:
                self._bank[name] = output

        return record

    def forward(self, latents: torch.Tensor, image_embeds: torch.Tensor) -> dict[str, torch.Tensor]:
        """Block name -> (B, N, C) PASA inputs f_g, for every transformer block; `image_embeds` (B, 1, D)."""
        timestep = torch.full((latents.shape[0],), self.timestep, device=latents.device, dtype=torch.long)
        self._bank = {}
        try:
            self.unet(latents, timestep, encoder_hidden_states=self.context(image_embeds))
        finally:
            bank, self._bank = self._bank, None
        missing = [name for name in self.block_names if name not in bank]
        if missing:  # only if the U-Net skipped a block: a bug, not a user error
            raise RuntimeError(f"garment U-Net gave no features for {missing}")
        return bank


class GarmentEncoder:
    """Garment photos -> `GarmentConditions`, everything the main U-Net needs from them, computed once (one garment
    U-Net run): the CLIP embedding (the CA context), the garment U-Net's feature bank f_g (read by PASA) and the
    garment pose tokens p_g of the pose encoder that the main U-Net holds (None in variant (a)).

    It holds the model's own modules (not copies) and registers none: parameter names stay where they run."""

    def __init__(
        self,
        garment_unet: GarmentUNet,
        image_encoder: nn.Module,
        vae: nn.Module,
        pose_encoder: PoseEncoder | None,
        levels: int,
    ):
        self.garment_unet, self.image_encoder, self.vae = garment_unet, image_encoder, vae
        self.pose_encoder, self.levels = pose_encoder, levels

    def encode(
        self,
        garment_pixels: torch.Tensor,
        garment_pose_map: torch.Tensor | None = None,
        *,
        drop: torch.Tensor | None = None,
    ) -> GarmentConditions:
        """garment_pixels: (B, 3, H, W) in [-1, 1]. garment_pose_map: (B, 3, H, W) in [0, 1], or None.
        drop: (B,) bool, True where the garment condition is dropped (classifier-free guidance training): that
        sample gets the null garment (zero CLIP embedding, garment U-Net run on a zero latent, zero pose map)."""
        latents = encode_latents(self.vae, garment_pixels)
        embeds = clip_image_embeddings(self.image_encoder, garment_pixels)
        if drop is not None:
            keep = (~drop.to(device=latents.device, dtype=torch.bool)).to(latents.dtype)
            latents = latents * keep.view(-1, 1, 1, 1)
            embeds = embeds * keep.view(-1, 1, 1)
            if garment_pose_map is not None:
                garment_pose_map = garment_pose_map * keep.view(-1, 1, 1, 1)
        return self._conditions(latents, embeds, garment_pose_map)

    def encode_for_guidance(
        self, garment_pixels: torch.Tensor, garment_pose_map: torch.Tensor | None = None
    ) -> GarmentConditions:
        """Conditions of batch 2B for classifier-free guidance, [null garments; garments], from one garment U-Net
        run: call the main U-Net on a doubled sample and split its output with `.chunk(2)` (unconditional first)."""
        latents = encode_latents(self.vae, garment_pixels)
        embeds = clip_image_embeddings(self.image_encoder, garment_pixels)
        pose = None
        if garment_pose_map is not None:
            pose = torch.cat([torch.zeros_like(garment_pose_map), garment_pose_map])
        return self._conditions(
            torch.cat([torch.zeros_like(latents), latents]), torch.cat([torch.zeros_like(embeds), embeds]), pose
        )

    def _conditions(
        self, latents: torch.Tensor, embeds: torch.Tensor, pose_map: torch.Tensor | None
    ) -> GarmentConditions:
        features = self.garment_unet(latents, embeds)
        pose = None
        if pose_map is not None and self.pose_encoder is not None:
            grids = level_grids(latents.shape[-2], latents.shape[-1], self.levels)
            pose = self.pose_encoder.pyramid(pose_map.to(latents.dtype), grids)
        return GarmentConditions(image_embeds=embeds, features=features, pose=pose)
