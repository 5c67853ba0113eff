"""DPIDM checkpoints: `config.json` + `dpidm.safetensors` in one folder (the layout of the manifest entry `dpidm`).

Only DPIDM's own and fine-tuned weights are saved (every parameter of both training phases: the pose encoder,
pose adapters, TSA, PATA, and the main U-Net's fine-tuned self- and cross-attention). The frozen parts (the rest
of the main U-Net, the garment U-Net, the VAE, CLIP) come unchanged from `weights/`, so a checkpoint holds 195 M of
the 2.2 G parameters at sd15 (780 MB in fp32: 95 M image phase, 100 M video phase). Loading is strict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_file, save_file

from tryon_cli.errors import InputError
from tryon_cli.models.configs import DPIDMModules

if TYPE_CHECKING:
    from tryon_cli.models.dpidm import DPIDM

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "dpidm.safetensors"
FORMAT = "dpidm-checkpoint"
VERSION = 1


def _replace_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save(model: "DPIDM", directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().to("cpu").contiguous() for name, p in model.checkpoint_parameters().items()}
    config = {"format": FORMAT, "version": VERSION, "modules": model.config.modules.to_dict()}
    _replace_atomically(
        directory / WEIGHTS_FILE, lambda path: save_file(tensors, str(path), metadata={"format": FORMAT})
    )
    _replace_atomically(directory / CONFIG_FILE, lambda path: path.write_text(json.dumps(config, indent=2) + "\n"))
    return directory


def _require_file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise InputError(
            f"not a DPIDM checkpoint: {path} not found (a checkpoint folder holds {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    return path


def read_modules(directory: Path) -> DPIDMModules:
    """The DPIDM module settings a checkpoint was saved with."""
    path = _require_file(directory, CONFIG_FILE)
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if config.get("format") != FORMAT:
        raise InputError(f"{path}: not a DPIDM checkpoint config (format {config.get('format')!r})")
    try:
        return DPIDMModules.from_dict(config["modules"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{path}: bad module settings ({err})") from None


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load(model: "DPIDM", directory: Path) -> None:
    modules = read_modules(directory)
    if modules != model.config.modules:
        raise InputError(
            f"{directory}: checkpoint was saved with module settings {modules}, the model has {model.config.modules}"
        )
    tensors = load_file(str(_require_file(directory, WEIGHTS_FILE)))
    expected = model.checkpoint_parameters()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(n for n in set(expected) & set(tensors) if expected[n].shape != tensors[n].shape)
    if missing or unexpected or wrong_shape:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing ({_names(missing)})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected ({_names(unexpected)})")
        if wrong_shape:
            problems.append(f"{len(wrong_shape)} of another shape ({_names(wrong_shape)})")
        raise InputError(f"{directory / WEIGHTS_FILE} does not fit this model: " + "; ".join(problems))
    with torch.no_grad():
        for name, parameter in expected.items():
            parameter.copy_(tensors[name])
