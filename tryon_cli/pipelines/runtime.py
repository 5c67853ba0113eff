"""Where and how the model runs: --device, --dtype and --attention turned into torch settings."""

from __future__ import annotations

import torch

from tryon_cli.errors import InputError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def torch_device(name: str) -> torch.device:
    """'auto' is this process's device (its own GPU under `accelerate launch`, CUDA when present, else CPU)."""
    if name == "auto":
        from accelerate import PartialState

        return PartialState().device
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r} is not a torch device (auto, cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return device


def torch_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def select_attention(model, attention: str, device: torch.device) -> None:
    """Apply --attention to `model`: 'auto' (xformers on CUDA when it runs, else SDPA), 'sdpa', or 'xformers'.

    Asked for by name, xformers must really run here: InputError otherwise (the model's backend would fall back
    to SDPA with a warning, which hides that the user's choice was not honoured).
    """
    from tryon_cli.models.attention import backend

    if attention not in backend.BACKENDS:
        raise InputError(f"--attention must be one of {', '.join(backend.BACKENDS)}, got {attention!r}")
    model.set_attention_backend(attention)
    if attention == "xformers" and (device.type != "cuda" or model.attention_backend.kernel_for(device) != "xformers"):
        raise InputError("--attention xformers needs a CUDA device and a working xformers install "
                         "(pip install xformers built for this torch); use --attention sdpa")
