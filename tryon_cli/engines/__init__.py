"""Try-on engines: crop-space conditions in, crop-space frames out (the interface is in `base.py`).

`build_engine` turns a `--model` choice into an engine. A new engine: a module (or package) here with a class
that has the members of `base.Engine`, and one branch below plus its name in `ENGINES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tryon_cli.errors import InputError, MissingWeightsError, SettingError
from tryon_cli.weights import path_of

ENGINES = ("auto", "warp", "sd15", "tiny")
DTYPES = ("fp32", "fp16", "bf16")


class MissingCheckpointError(MissingWeightsError):
    """DPIDM was asked for and no trained checkpoint is there."""


def default_checkpoint(weights_root: Path | None = None) -> Path:
    return path_of("dpidm", weights_root)


def require_checkpoint(kind: str, checkpoint: Path | None, weights_root: Path | None) -> None:
    """The trained DPIDM (`kind` "sd15") with no checkpoint given and none installed: MissingCheckpointError.
    Torch-free, so that the CLI says so in a second, before torch is imported (7 s and 1 GiB)."""
    if kind == "sd15" and checkpoint is None and not default_checkpoint(weights_root).exists():
        raise MissingCheckpointError(f"no trained DPIDM checkpoint: {default_checkpoint(weights_root)} not found")


def resolve_model(model: str, checkpoint: Path | None = None, weights_root: Path | None = None) -> str:
    """The engine `model` stands for: "auto" is DPIDM when a checkpoint is given or installed, else "warp"."""
    if model not in ENGINES:
        raise SettingError("model", f"must be one of {', '.join(ENGINES)}, got {model!r}")
    if model != "auto":
        return model
    if checkpoint is None and not default_checkpoint(weights_root).is_dir():
        return "warp"
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(weights_root)
    from tryon_cli.models.checkpoint import resolve_checkpoint

    return resolve_checkpoint(folder).base


def build_engine(
    model: str,
    *,
    checkpoint: Path | None = None,
    weights_root: Path | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    attention: str = "auto",
    sampling=None,
    notes: Callable[[str], None] = lambda message: None,
):
    """The engine for `model` (one of ENGINES) on `device` ("cpu", "cuda", "cuda:1": already resolved)."""
    kind = resolve_model(model, checkpoint, weights_root)
    if kind == "warp":
        if model == "auto":
            notes(
                f"no trained DPIDM checkpoint in {default_checkpoint(weights_root)}: using the weights-free warp "
                "engine (not the paper's DPIDM)"
            )
        try:
            from tryon_cli.engines.warp import WarpEngine
        except ImportError:
            raise InputError("the warp engine is not part of this build of dpidm") from None
        return WarpEngine()
    return _dpidm_engine(kind, checkpoint, weights_root, device, dtype, attention, sampling)


def _dpidm_engine(kind, checkpoint, weights_root, device, dtype, attention, sampling):
    import torch

    from tryon_cli.engines.dpidm import DPIDMEngine
    from tryon_cli.engines.dpidm_sampling import DPIDMSampling
    from tryon_cli.models.checkpoint import resolve_checkpoint
    from tryon_cli.models.dpidm import DPIDM

    if dtype not in DTYPES:
        raise SettingError("dtype", f"must be one of {', '.join(DTYPES)}, got {dtype!r}")
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    sampling = sampling or DPIDMSampling()
    if kind == "tiny" and checkpoint is None:
        model = DPIDM.from_config("tiny", seed=sampling.seed)
        description = f"tiny DPIDM, UNTRAINED (random weights, seed {sampling.seed})"
    else:
        require_checkpoint(kind, checkpoint, weights_root)
        folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(weights_root)
        # A checkpoint holds only DPIDM's trained modules and names its base; a tiny base is rebuilt as training
        # built it (TINY_BASE_SEED), an sd15 one is read from weights/.
        info = resolve_checkpoint(folder, base=kind)
        model = DPIDM.from_checkpoint(info.folder, weights_root=weights_root, dtype=torch_dtype)
        test = ": a test model, its output is not a try-on" if info.base == "tiny" else ""
        description = f"DPIDM checkpoint {info.folder} ({info.base} base{test}; variant {info.variant})"
    use_attention(model, attention, torch.device(device))
    return DPIDMEngine(
        model,
        sampling=sampling,
        device=device,
        dtype=torch_dtype,
        untrained=kind == "tiny" and checkpoint is None,
        # The tiny base is for checks: a 20-step smoke checkpoint paints noise, and was labelled a trained model.
        test_model=kind == "tiny",
        description=description,
    )


def use_attention(model, attention: str, device) -> None:
    """The attention kernel: "auto" (xformers on CUDA when it runs, else SDPA), "sdpa" or "xformers".

    The one place that chooses it. Asked for by name, xformers must really run here (SettingError otherwise: the
    models would fall back to SDPA with a warning, hiding that the choice was not honoured)."""
    from tryon_cli.models.attention import backend

    if attention not in backend.BACKENDS:
        raise SettingError("attention", f"must be one of {', '.join(backend.BACKENDS)}, got {attention!r}")
    model.set_attention_backend(attention)
    kernel = model.attention_backend.kernel_for(device)
    if attention == "xformers" and (device.type != "cuda" or kernel != "xformers"):
        raise SettingError(
            "attention",
            "xformers needs a CUDA device and a working xformers install (pip install "
            "xformers built for this torch); use sdpa",
        )
