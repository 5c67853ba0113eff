"""Option types shared by several commands, so that a flag means the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Device = Annotated[str, typer.Option("--device", help="Torch device: auto (CUDA when present), cpu, cuda, cuda:1.")]
Dtype = Annotated[str, typer.Option("--dtype", help="Compute precision: fp32, fp16 or bf16.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
Category = Annotated[str, typer.Option("--category", help="Garment category: upper, lower or dress.")]
WeightsRoot = Annotated[
    Optional[Path],
    typer.Option("--weights", help="Weights folder (default: $DPIDM_WEIGHTS or ./weights).", file_okay=False),
]
OutputDir = Annotated[Path, typer.Option("--output", "-o", help="Output folder.", file_okay=False)]


def resolve_device(name: str) -> str:
    """--device as a concrete torch device string: 'auto' is this process's device (its own GPU under `accelerate
    launch`, CUDA when present, else the CPU). The one device parser of the commands."""
    import torch

    from tryon_cli.errors import InputError

    if name == "auto":
        from accelerate import PartialState

        return str(PartialState().device)
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r} is not a torch device (auto, cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine")
    return str(device)
