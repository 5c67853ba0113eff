"""Option types shared by several commands, so that a flag means the same everywhere."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

Device = Annotated[str, typer.Option("--device", help="Torch device: auto (CUDA when present), cpu, cuda, cuda:1.")]
Dtype = Annotated[str, typer.Option("--dtype", help="Compute precision: fp32, fp16 or bf16.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
Category = Annotated[str, typer.Option("--category", help="Garment category: upper, lower or dress.")]
WeightsRoot = Annotated[
    Optional[Path],
    typer.Option(
        "--weights",
        help="Weights folder (default: $DPIDM_WEIGHTS, else ./weights, else the checkout's; see `dpidm weights`).",
        exists=True,
        file_okay=False,
    ),
]
OutputDir = Annotated[Path, typer.Option("--output", "-o", help="Output folder.", file_okay=False)]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace outputs that exist (refused without it).")]


def check_cuda_present(name: str) -> None:
    """--device cuda[:N] on a Linux machine whose CUDA driver reports no GPU: InputError, found in milliseconds
    through the driver itself, before torch is imported (7-11 s and 1 GiB). Where the driver is found and reports a
    GPU, `resolve_device` (torch) still has the last word."""
    from tryon_cli.errors import InputError

    if name.startswith("cuda") and sys.platform.startswith("linux") and _cuda_driver_devices() == 0:
        raise InputError(f"--device {name}: CUDA is not available on this machine (no CUDA driver or no GPU)")


def _cuda_driver_devices() -> int:
    """GPUs the CUDA driver (libcuda) sees, honouring CUDA_VISIBLE_DEVICES; 0 without a driver."""
    import ctypes

    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def resolve_device(name: str) -> str:
    """--device as a concrete torch device string: 'auto' is this process's device (its own GPU under `accelerate
    launch`, CUDA when present, else the CPU). The one device parser of the commands. CUDA on a machine without it
    is refused before torch is imported (`check_cuda_present`)."""
    check_cuda_present(name)
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
