"""Try-on engines: crop-space conditions in, crop-space frames out (the interface is in `base.py`).

`build_engine` turns a `--model` choice into an engine. A new engine: a module (or package) here with a class
that has the members of `base.Engine`, and one branch below plus its name in `ENGINES`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.weights import path_of

ENGINES = ("auto", "warp", "sd15", "tiny")
DTYPES = ("fp32", "fp16", "bf16")
CHECKPOINT_FILE = "dpidm.safetensors"


class MissingCheckpointError(MissingWeightsError):
    """DPIDM was asked for and no trained checkpoint is there."""


def default_checkpoint(weights_root: Path | None = None) -> Path:
    return path_of("dpidm", weights_root)


def resolve_model(model: str, checkpoint: Path | None = None, weights_root: Path | None = None) -> str:
    """The engine `model` stands for: "auto" is DPIDM when a checkpoint is given or installed, else "warp"."""
    if model not in ENGINES:
        from tryon_cli.tryon.settings import SettingError

        raise SettingError("model", f"must be one of {', '.join(ENGINES)}, got {model!r}")
    if model != "auto":
        return model
    if checkpoint is None and not (default_checkpoint(weights_root) / CHECKPOINT_FILE).is_file():
        return "warp"
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(weights_root)
    return _checkpoint_base(folder)


def _checkpoint_base(folder: Path) -> str:
    """The base ("tiny" or "sd15") a checkpoint was trained on, as its config.json records it (sd15 if silent)."""
    try:
        return str(json.loads((folder / "config.json").read_text()).get("base", "sd15"))
    except (OSError, ValueError, AttributeError):
        return "sd15"


def build_engine(model: str, *, checkpoint: Path | None = None, weights_root: Path | None = None,
                 device: str = "cpu", dtype: str = "fp32", attention: str = "auto", sampling=None,
                 notes: Callable[[str], None] = lambda message: None):
    """The engine for `model` (one of ENGINES) on `device` ("cpu", "cuda", "cuda:1": already resolved)."""
    kind = resolve_model(model, checkpoint, weights_root)
    if kind == "warp":
        if model == "auto":
            notes(f"no trained DPIDM checkpoint in {default_checkpoint(weights_root)}: using the weights-free warp "
                  "engine (not the paper's DPIDM)")
        try:
            from tryon_cli.engines.warp import WarpEngine
        except ImportError:
            raise InputError("the warp engine is not part of this build of dpidm") from None
        return WarpEngine()
    return _dpidm_engine(kind, checkpoint, weights_root, device, dtype, attention, sampling)


def _dpidm_engine(kind, checkpoint, weights_root, device, dtype, attention, sampling):
    import torch

    from tryon_cli.engines.dpidm import DPIDMEngine, DPIDMSampling
    from tryon_cli.models.dpidm import DPIDM, TINY_BASE_SEED
    from tryon_cli.tryon.settings import SettingError

    if dtype not in DTYPES:
        raise SettingError("dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    sampling = sampling or DPIDMSampling()
    if kind == "tiny":
        # A checkpoint holds only DPIDM's trained modules; the tiny frozen base is rebuilt as training built it.
        seed = sampling.seed if checkpoint is None else TINY_BASE_SEED
        model = DPIDM.from_config("tiny", seed=seed)
        if checkpoint is None:
            description = f"tiny DPIDM, UNTRAINED (random weights, seed {seed})"
        else:
            model.load_checkpoint(checkpoint)
            description = f"tiny DPIDM checkpoint {checkpoint} (frozen base: random weights, seed {seed})"
    else:
        folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(weights_root)
        # DPIDM.from_pretrained alone would give freshly initialised DPIDM modules; inference needs trained ones.
        if not (folder / CHECKPOINT_FILE).is_file():
            raise MissingCheckpointError(f"no trained DPIDM checkpoint: {folder / CHECKPOINT_FILE} not found")
        model = DPIDM.from_pretrained(weights_root, checkpoint=folder, dtype=torch_dtype)
        description = f"DPIDM checkpoint {folder}"
    use_attention(model, attention, torch.device(device))
    return DPIDMEngine(model, sampling=sampling, device=device, dtype=torch_dtype,
                       untrained=kind == "tiny" and checkpoint is None, description=description)


def use_attention(model, attention: str, device) -> None:
    """The attention kernel: "auto" (xformers on CUDA when it runs, else SDPA), "sdpa" or "xformers".

    The one place that chooses it. Asked for by name, xformers must really run here (SettingError otherwise: the
    models would fall back to SDPA with a warning, hiding that the choice was not honoured)."""
    from tryon_cli.models.attention import backend
    from tryon_cli.tryon.settings import SettingError

    if attention not in backend.BACKENDS:
        raise SettingError("attention", f"must be one of {', '.join(backend.BACKENDS)}, got {attention!r}")
    if hasattr(model, "set_attention_backend"):
        model.set_attention_backend(attention)
    else:  # today's process-wide choice, until the model instance carries its own
        backend.set_backend(attention)
    if attention == "xformers" and (device.type != "cuda" or backend.backend_for(device) != "xformers"):
        raise SettingError("attention", "xformers needs a CUDA device and a working xformers install (pip install "
                           "xformers built for this torch); use sdpa")
