"""The main U-Net's transformer block: PASA -> TSA -> CA -> PATA -> FF (paper 3.4, Fig. 2).

`DPIDMTransformerBlock` takes over a diffusers `BasicTransformerBlock` of SD1.5's kind: it keeps that block's
modules under their own names (`norm1`, `attn1`, `norm2`, `attn2`, `norm3`, `ff`), so the U-Net's state dict
keeps SD1.5's keys, and adds the block's parts of the `DPIDMDelta` (`pasa_adapter`, `tsa`, `pata`; a part the
variant lacks is None). Each sub-block is pre-norm residual:

    x = x + attn1(norm1(x) + Adpt(p_h), garment tokens norm1_g(x_g) + Adpt(p_g))   PASA, Eq. 4
    x = x + TSA(x)                                                                  Eq. 5 (video only)
    x = x + attn2(norm2(x), CLIP garment embedding)                                 CA
    x = PATA(x, p_h)                          residual temporal attention, see attention/pata.py (video only)
    x = x + ff(norm3(x))

The per-call inputs (frame count, pose tokens, garment bank, switches) arrive as a `FrameContext` under the
"dpidm" key of diffusers' `cross_attention_kwargs`, which `UNet2DConditionModel` hands to every block; it carries
inputs only. What a block hands back besides its output (the TRA layers' PASA queries and keys) goes to the
`QueriesKeysRecorder` that `MainUNet` attaches to those blocks for one call (`queries_keys_hook`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.attention import BasicTransformerBlock
from torch import nn

from tryon_cli.models.attention.pasa import PASAProcessor, QueriesKeysRecorder
from tryon_cli.models.delta import BlockDelta
from tryon_cli.models.garment_bank import GarmentConditions


@dataclass
class FrameContext:
    """What every block needs for one main U-Net call; frames are laid out (b t) along the batch."""

    frames: int
    grids: list[tuple[int, int]]
    """Human token grid (h, w) per U-Net level."""
    garment: GarmentConditions | None = None
    human_pose: list[torch.Tensor] | None = None
    """Human pose tokens p_h per level, (B*T, N_l, C_pose)."""
    use_tsa: bool = False
    use_pata: bool = False


class DPIDMTransformerBlock(nn.Module):
    def __init__(
        self,
        base: BasicTransformerBlock,
        name: str,
        level: int,
        delta: BlockDelta,
    ):
        super().__init__()
        if base.norm_type != "layer_norm" or base.attn2 is None or base.only_cross_attention or base.pos_embed:
            raise ValueError(f"{name}: DPIDM expects SD1.5 transformer blocks (layer norm, self + cross attention)")
        self.name = name
        self.level = level
        delta.adopt(base.attn1, base.attn2)
        self.norm1, self.attn1 = base.norm1, base.attn1
        self.norm2, self.attn2 = base.norm2, base.attn2
        self.norm3, self.ff = base.norm3, base.ff
        self.pasa_adapter, self.tsa, self.pata = delta.pasa_adapter, delta.tsa, delta.pata
        self.attn1.set_processor(PASAProcessor())
        self.queries_keys_hook: QueriesKeysRecorder | None = None  # set by `QueriesKeysRecorder.attached`

    def _garment_tokens(self, garment: GarmentConditions | None) -> torch.Tensor | None:
        if garment is None or garment.features is None:
            return None
        tokens = garment.features[self.name]
        if garment.pose is not None and self.pasa_adapter is not None:
            tokens = tokens + self.pasa_adapter(garment.pose[self.level])
        return tokens

    # Same positional signature as BasicTransformerBlock.forward: Transformer2DModel calls it positionally under
    # gradient checkpointing.
    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        cross_attention_kwargs: dict | None = None,
        class_labels: torch.Tensor | None = None,
        added_cond_kwargs: dict | None = None,
    ) -> torch.Tensor:
        ctx = (cross_attention_kwargs or {}).get("dpidm") or FrameContext(frames=1, grids=[])
        x = hidden_states
        pose = None if ctx.human_pose is None else ctx.human_pose[self.level]

        # PASA (Eq. 4)
        human = self.norm1(x)
        if pose is not None and self.pasa_adapter is not None:
            human = human + self.pasa_adapter(pose)
        garment_tokens = self._garment_tokens(ctx.garment)
        if self.queries_keys_hook is not None:
            out, queries_keys = self.attn1(
                human, garment_tokens=garment_tokens, frames=ctx.frames, return_queries_keys=True
            )
            self.queries_keys_hook.record(self.name, queries_keys)
        else:
            out = self.attn1(human, garment_tokens=garment_tokens, frames=ctx.frames)
        x = x + out

        if ctx.use_tsa and self.tsa is not None:  # Eq. 5
            x = x + self.tsa(x, ctx.frames, ctx.grids[self.level])

        # CA: cross-attention to the garment's CLIP image embedding
        x = x + self.attn2(
            self.norm2(x), encoder_hidden_states=encoder_hidden_states, attention_mask=encoder_attention_mask
        )

        if ctx.use_pata:
            x = self.pata(x, pose, ctx.frames)

        return x + self.ff(self.norm3(x))
