"""Loading the SD1.5 parts from diffusers-format folders (paths from the weights manifest, `tryon_cli/weights.py`).

Every U-Net tensor in the files must be used and every U-Net parameter must come from the files (checked, with
a one-line error otherwise); DPIDM's own modules are then added and listed in the `LoadReport`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextModel, CLIPVisionModelWithProjection

from tryon_cli.errors import InputError
from tryon_cli.models.delta import part_of
from tryon_cli.weights import require


@dataclass
class PretrainedParts:
    main_unet: UNet2DConditionModel
    garment_unet: UNet2DConditionModel
    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection
    loaded: dict[str, set[str]]
    """Component prefix in DPIDM (e.g. "main_unet.unet") -> parameter names loaded from files."""
    empty_prompt: torch.Tensor | None = None
    """(1, 77, 768) SD1.5's text embedding of the empty prompt (the garment U-Net's context), when asked for."""


def _check_fit(folder: Path, info: dict) -> None:
    missing, unexpected = list(info.get("missing_keys", [])), list(info.get("unexpected_keys", []))
    mismatched = [str(m[0]) for m in info.get("mismatched_keys", [])]
    if missing or unexpected or mismatched:
        raise InputError(
            f"{folder}: weights do not fit the model ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} of another shape; first: {(missing + unexpected + mismatched)[0]})"
        )


def _quietly(load):
    """Run a from_pretrained call without the libraries' INFO/WARNING chatter: misfits are checked by `_check_fit`."""
    loggers = [logging.getLogger(n) for n in ("diffusers", "transformers")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        return load()
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _load_unet(folder: Path, dtype: torch.dtype) -> UNet2DConditionModel:
    unet, info = _quietly(
        lambda: UNet2DConditionModel.from_pretrained(folder, torch_dtype=dtype, output_loading_info=True)
    )
    _check_fit(folder, info)
    return unet


# CLIP's tokenizer on "": start-of-text, end-of-text, then end-of-text as padding to 77 tokens (SD1.5's tokenizer
# pads with "<|endoftext|>"); fixed ids, so no tokenizer files are needed.
_START_OF_TEXT, _END_OF_TEXT = 49406, 49407


@torch.no_grad()
def empty_prompt_embedding(clip: Path, dtype: torch.dtype, tokens: int = 77) -> torch.Tensor:
    """SD1.5's context for the empty prompt: the last hidden state of CLIP ViT-L/14's text tower (SD1.5's text
    encoder; the `clip-image-encoder` folder holds the whole CLIP model), computed once."""
    text, info = _quietly(lambda: CLIPTextModel.from_pretrained(clip, dtype=dtype, output_loading_info=True))
    _check_fit(clip, {key: info.get(key, []) for key in ("missing_keys", "mismatched_keys")})
    ids = torch.tensor([[_START_OF_TEXT] + [_END_OF_TEXT] * (tokens - 1)])
    return text(input_ids=ids).last_hidden_state


def load_parts(root: Path | None, dtype: torch.dtype, *, empty_prompt: bool = True) -> PretrainedParts:
    inpainting = require("sd15-inpainting", root)
    base = require("sd15", root)
    clip = require("clip-image-encoder", root)
    main_unet = _load_unet(inpainting / "unet", dtype)
    garment_unet = _load_unet(base / "unet", dtype)
    vae, vae_info = _quietly(
        lambda: AutoencoderKL.from_pretrained(inpainting / "vae", torch_dtype=dtype, output_loading_info=True)
    )
    _check_fit(inpainting / "vae", vae_info)
    image_encoder, clip_info = _quietly(
        lambda: CLIPVisionModelWithProjection.from_pretrained(clip, dtype=dtype, output_loading_info=True)
    )
    # A full CLIP checkpoint also carries the text tower, which is not used: only missing keys are an error.
    _check_fit(clip, {key: clip_info.get(key, []) for key in ("missing_keys", "mismatched_keys")})
    loaded = {
        "main_unet.unet": {n for n, _ in main_unet.named_parameters()},
        "garment_unet.unet": {n for n, _ in garment_unet.named_parameters()},
        "vae": {n for n, _ in vae.named_parameters()},
        "image_encoder": {n for n, _ in image_encoder.named_parameters()},
    }
    prompt = empty_prompt_embedding(clip, dtype) if empty_prompt else None
    return PretrainedParts(main_unet, garment_unet, vae, image_encoder, loaded, prompt)


@dataclass
class LoadReport:
    """What `DPIDM.from_pretrained` took from the SD1.5 folders and what it initialised itself."""

    pretrained: dict[str, int]
    """Component -> number of parameters loaded from files."""
    new_parameters: list[str] = field(default_factory=list)
    """Parameters of DPIDM's own modules, not in any pretrained file."""
    new_kinds: list[str] = field(default_factory=list)
    """The delta parts they belong to (`delta.part_of`)."""

    @classmethod
    def of(cls, model: nn.Module, delta: nn.Module, loaded: dict[str, set[str]]) -> "LoadReport":
        """The report of `model` (all its parameters, named as in `loaded`'s prefixes) built around `delta`."""
        from_files = {f"{prefix}.{name}" for prefix, names in loaded.items() for name in names}
        # Wrapping blocks moves no parameter, so pretrained names are unchanged and everything else is new.
        by_name = dict(model.named_parameters())
        new = [name for name in by_name if name not in from_files]
        parts = {id(p): part_of(name) for name, p in delta.named_parameters()}
        new_kinds = sorted({parts.get(id(by_name[name]), name) for name in new})
        return cls({prefix: len(names) for prefix, names in loaded.items()}, new, new_kinds)

    def __str__(self) -> str:
        lines = [f"{prefix}: {count} pretrained parameters" for prefix, count in self.pretrained.items()]
        lines.append(f"new: {len(self.new_parameters)} parameters ({', '.join(self.new_kinds)})")
        return "\n".join(lines)
