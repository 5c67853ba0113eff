"""DPIDM checkpoints: a `DPIDMDelta.save_pretrained` folder (`config.json` + `diffusion_pytorch_model.safetensors`).

Only DPIDM's own and fine-tuned weights are saved (every parameter of both training phases: the pose encoder,
pose adapters, TSA, PATA, and the main U-Net's fine-tuned self- and cross-attention). The frozen parts (the rest
of the main U-Net, the garment U-Net, the VAE, CLIP) come unchanged from `weights/` (sd15) or from the tiny
model's seed, so a checkpoint holds 195 M of the 2.2 G parameters at sd15 (780 MB in fp32). The config says which
base and variant it belongs to; loading is strict.

This module finds and checks a checkpoint before anything is built; writing one and loading its weights are the
delta's (`DPIDMDelta.save_checkpoint`, `DPIDMDelta.load_checkpoint`). `resolve_checkpoint` accepts what a user has
at hand: a checkpoint folder, `RUN/checkpoints/latest` (the file
naming the newest checkpoint), `RUN/checkpoints` or the run folder `RUN` itself.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

from diffusers.utils import SAFETENSORS_WEIGHTS_NAME

from tryon_cli.errors import InputError
from tryon_cli.models.delta import BASE_WEIGHTS_NAME, BASES, VARIANTS, DPIDMDelta, module_settings

CONFIG_FILE = DPIDMDelta.config_name
WEIGHTS_FILE = SAFETENSORS_WEIGHTS_NAME
LATEST = "latest"
"""The file in a run's `checkpoints/` folder that names its newest complete checkpoint."""


@dataclass(frozen=True)
class CheckpointInfo:
    folder: Path
    base: str
    variant: str
    config: dict
    """The delta's config.json as read."""


def _follow_latest(pointer: Path) -> Path:
    name = pointer.read_text().strip()
    folder = pointer.parent / name
    if not name or not folder.is_dir():
        raise InputError(f"{pointer} names checkpoint {name!r}, which is not a folder in {pointer.parent}")
    return folder


def _checkpoint_folder(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"checkpoint {path} does not exist")
    if path.is_file():
        if path.name != LATEST:
            raise InputError(f"checkpoint {path} is a file; give a checkpoint folder, RUN/checkpoints/{LATEST} or RUN")
        return _follow_latest(path)
    if (path / CONFIG_FILE).is_file():
        return path
    for pointer in (path / LATEST, path / "checkpoints" / LATEST):
        if pointer.is_file():
            return _follow_latest(pointer)
    raise InputError(
        f"{path} is not a DPIDM checkpoint: no {CONFIG_FILE}, and no checkpoints/{LATEST} of a training run"
    )


def resolve_checkpoint(path: str | Path, *, base: str | None = None) -> CheckpointInfo:
    """The checkpoint at `path`, checked (config readable and DPIDM's, base and variant known, weights present, and
    the base equal to `base` when given) before anything is built; one-line InputError otherwise."""
    folder = _checkpoint_folder(Path(path))
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise InputError(f"not a DPIDM checkpoint: {config_path} not found")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{config_path}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("_class_name") != DPIDMDelta.__name__:
        older = isinstance(config, dict) and config.get("format") == "dpidm-checkpoint"
        hint = " (written by an older dpidm, before checkpoints recorded their base: train again)" if older else ""
        raise InputError(f"{config_path} is not a DPIDM checkpoint config{hint}")
    known = set(inspect.signature(DPIDMDelta.__init__).parameters) - {"self"}
    unknown = sorted(k for k in config if not k.startswith("_") and k not in known)
    if unknown:
        raise InputError(f"{config_path}: settings this dpidm does not know ({', '.join(unknown)})")
    found_base, variant = config.get("base"), config.get("variant")
    if found_base not in BASES:
        raise InputError(f"{config_path}: base {found_base!r} unknown (known: {', '.join(BASES)})")
    if variant not in VARIANTS:
        raise InputError(f"{config_path}: variant {variant!r} unknown (known: {', '.join(VARIANTS)})")
    if base is not None and base != found_base:
        raise InputError(f"{folder} is a checkpoint of the {found_base} model, not of {base}")
    for name in (WEIGHTS_FILE, BASE_WEIGHTS_NAME) if config.get("trains_base") else (WEIGHTS_FILE,):
        if not (folder / name).is_file():
            raise InputError(f"not a complete DPIDM checkpoint: {folder / name} not found")
    return CheckpointInfo(folder, found_base, variant, config)


def build_settings(info: CheckpointInfo) -> dict:
    """The `DPIDMDelta` arguments to build a model for this checkpoint with (variant, module settings); the base
    and U-Net structure come from where the model is built, and `DPIDMDelta.load_checkpoint` compares them."""
    settings = module_settings(info.config)
    for structural in ("base", "unet"):
        settings.pop(structural, None)
    return settings


def restore(delta: DPIDMDelta, checkpoint: str | Path) -> CheckpointInfo:
    """The weights of the checkpoint at `checkpoint` (anything `resolve_checkpoint` accepts) into `delta`,
    strictly (`DPIDMDelta.load_checkpoint`); the checkpoint it was."""
    info = resolve_checkpoint(checkpoint)
    delta.load_checkpoint(info.folder, info.config)
    return info
