"""`dpidm train`: DPIDM's single-stage image-video joint training (paper 3.6); `dpidm train prepare` first
computes what the dataset lacks (poses, garment landmarks, agnostic masks)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from tryon_cli.cli.options import Device, OutputDir, WeightsRoot
from tryon_cli.cli.pose import PoseBackend
from tryon_cli.cli.progress import progress_bar

EPILOG = (
    "Examples:\n\n"
    "  dpidm train prepare --data vivid --root /data/ViViD     # once: poses, dpidm's masks, garment landmarks\n\n"
    "  dpidm train --data vivid --root /data/ViViD --output runs/vivid   # the paper's settings (SD1.5 weights)\n\n"
    "  dpidm train --data vivid --root /data/ViViD --output runs/vivid --resume   # continue exactly\n\n"
    "  dpidm train --data vvt --root /data/VVT --output runs/vvt --config my.yaml --set train.batch_size=4\n\n"
    "  dpidm train prepare --data vivid --root DIR     # CPU smoke test, 1 of 2\n\n"
    "  dpidm train --data vivid --root DIR --model tiny --max-steps 20 --output /tmp/run   # 2 of 2\n\n"
    "  accelerate launch --num_processes 8 $(which dpidm) train --data vivid --root DIR --output OUT   # 8 GPUs\n\n"
    "  dpidm train --data vivid --root /data/ViViD --output runs/b --variant b   # a Table 4 ablation row\n\n"
    "Writes OUT/metrics.jsonl (one line per step), OUT/tensorboard/, OUT/checkpoints/<step>/ and\n"
    "OUT/checkpoints/latest (load one with `dpidm tryon --checkpoint`). SIGTERM or Ctrl-C writes a checkpoint, prints\n"
    "the command that resumes, and exits. Before the first step the step's memory is estimated; a run that cannot\n"
    "fit is refused with the --set overrides that would fit. See docs/training.md."
)

Data = Annotated[Optional[str], typer.Option("--data", help="Dataset layout: vivid, vvt or vitonhd.")]
Root = Annotated[Optional[Path], typer.Option("--root", help="The dataset's root folder.", file_okay=False)]


class _DefaultToRun(TyperGroup):
    """`dpidm train --data ...` trains; `dpidm train prepare ...` prepares."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToRun,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Train DPIDM (image-video joint training); `prepare` caches poses, landmarks and masks first. "
    "All training options: dpidm train run --help.",
)


Variant = Annotated[
    Optional[str],
    typer.Option(
        "--variant",
        help="Paper Table 4 row: a (no pose in attention, no TSA, plain temporal attention), b (PASA + PATA), "
        "c (b + TSA), d (c + TRA loss = DPIDM) [default: d]. a-c train without the TRA loss.",
    ),
]


@app.command("run", epilog=EPILOG)
def run(
    data: Data = None,
    root: Root = None,
    output: OutputDir = Path("runs/dpidm"),
    model: Annotated[
        Optional[str],
        typer.Option("--model", help="sd15 (SD1.5 weights) or tiny (random, CPU-sized clips: 128x96, 8 frames)."),
    ] = None,
    variant: Variant = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Optimiser steps (paper: 80000).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Samples per process and step.")] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", help="A YAML config on top of the defaults.", exists=True, dir_okay=False),
    ] = None,
    overrides: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="KEY=VALUE over the config, repeatable (e.g. train.learning_rate=1e-5)."),
    ] = None,
    weights: WeightsRoot = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed [default: 42].")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUTPUT's latest checkpoint.")] = False,
) -> None:
    """Train DPIDM: alternating image and video steps, MSE + TRA loss, checkpoints that lose nothing."""
    from tryon_cli.training.config import load_config
    from tryon_cli.training.trainer import train

    flags = {
        "data.name": data,
        "data.root": root,
        "model": model,
        "variant": variant,
        "train.max_steps": max_steps,
        "train.batch_size": batch_size,
        "weights": weights,
        "train.seed": seed,
    }
    settings = load_config(config, [*(overrides or []), *(f"{k}={v}" for k, v in flags.items() if v is not None)])
    console = Console(stderr=True)
    progress = progress_bar(console, disable=not _is_main_process())
    task = progress.add_task("training", total=settings.train.max_steps)

    def on_start(first_step: int) -> None:  # the checks passed and the data is open: now the bar means something
        progress.update(task, completed=first_step)
        progress.start()

    def on_step(record) -> None:
        progress.update(
            task,
            completed=record.step,
            description=f"{record.phase} step, loss {record.loss:.4f}, {record.samples_per_s:.1f} samples/s",
        )

    try:
        result = train(settings, output, resume=resume, on_step=on_step, on_start=on_start)
    finally:
        progress.stop()
    if not _is_main_process():
        return
    console.print(
        f"checkpoint: {result.checkpoint}" if result.checkpoint else "no step run (max-steps already reached)"
    )
    if result.stopped:
        again = {
            "--data": data,
            "--root": root,
            "--output": output,
            "--model": model,
            "--variant": variant,
            "--max-steps": max_steps,
            "--batch-size": batch_size,
            "--config": config,
            "--weights": weights,
            "--seed": seed,
        }
        words = [
            "dpidm",
            "train",
            *(w for flag, value in again.items() if value is not None for w in (flag, str(value))),
            *(w for item in overrides or [] for w in ("--set", item)),
            "--resume",
        ]
        console.print(f"stopped on request; resume with: {shlex.join(words)}", soft_wrap=True)


@app.command("prepare", epilog=EPILOG)
def prepare(
    data: Data = None,
    root: Root = None,
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "train",
    pose_backend: PoseBackend = "auto",
    device: Device = "cpu",
) -> None:
    """Compute and cache (in ROOT/dpidm_prepared/) the poses, garment landmarks and masks the dataset lacks."""
    from tryon_cli.data.prepare import prepare_dataset
    from tryon_cli.errors import InputError

    if data is None or root is None:
        raise InputError("dpidm train prepare needs --data (vivid, vvt or vitonhd) and --root DIR")
    console = Console(stderr=True)
    with progress_bar(console) as progress:
        task = progress.add_task("preparing clips", total=None)
        report = prepare_dataset(
            data,
            root,
            split,
            pose_backend,
            device,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(
        f"{report.clips} clips: computed {report.poses} pose sequences, {report.masks} mask sets, "
        f"{report.garments} garment landmark sets; cache: {root / 'dpidm_prepared'}"
    )


def _is_main_process() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
