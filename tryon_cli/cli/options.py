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
