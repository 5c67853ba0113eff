"""`dpidm tryon`: a person video and a garment photo in, a try-on video out (or many pairs with --pairs)."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from tryon_cli.cli.options import Category, Device, Dtype, Seed, WeightsRoot
from tryon_cli.errors import DpidmError, InputError
from tryon_cli.pipelines.batch import CATEGORIES, my_share, pending, read_pairs
from tryon_cli.pipelines.choices import MODEL_DEFAULTS, WEIGHT_KINDS
from tryon_cli.pipelines.progress import Stages

EPILOG = (
    "Examples:\n\n"
    "  dpidm tryon person.mp4 shirt.jpg -o out.mp4           # needs a trained checkpoint in weights/dpidm/\n\n"
    "  dpidm tryon examples/person.mp4 examples/garment_upper_00057_00.jpg -o out.mp4 --model tiny\n\n"
    "  dpidm tryon person.mp4 skirt.jpg -o out.mp4 --category lower --frames 0:96 --checkpoint run/checkpoints/80000\n\n"
    "  dpidm tryon person.mp4 dress.jpg -o out.mp4 --category dress --mask my_mask.mp4 --preview --keep-intermediates\n\n"
    "  accelerate launch --no_python dpidm tryon --pairs pairs.txt -o results/   # split over GPUs, resumable\n\n"
    "A pairs file has one 'VIDEO GARMENT [upper|lower|dress]' per line (paths relative to the file); existing\n"
    "outputs are skipped, so a killed run resumes where it stopped."
)


def _parse_frames(value: Optional[str]) -> Optional[tuple[int, Optional[int]]]:
    if value is None:
        return None
    start, sep, stop = value.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(start or 0), (int(stop) if stop else None)
    except ValueError:
        raise typer.BadParameter(f"expected START:END (e.g. 10:30 or 24:), got {value!r}", param_hint="--frames")


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a job scheduler stopping the run, `kill`) unwinds like Ctrl-C, so partial outputs are removed."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tryon(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output mp4 (a folder with --pairs).")],
    video: Annotated[Optional[Path], typer.Argument(help="Person video (mp4, mov, ...).", dir_okay=False)] = None,
    garment: Annotated[Optional[Path], typer.Argument(help="Garment photo (jpg, png, ...).", dir_okay=False)] = None,
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="Batch: a file of 'VIDEO GARMENT [CATEGORY]' lines.",
                                                  dir_okay=False)] = None,
    category: Category = "upper",
    mask: Annotated[Optional[Path], typer.Option("--mask", help="Your own mask video (white = repaint) instead of "
                                                 "the automatic agnostic mask.", dir_okay=False)] = None,
    frames: Annotated[Optional[str], typer.Option("--frames", help="Only frames START:END (END exclusive).")] = None,
    model: Annotated[str, typer.Option("--model", help="sd15: the trained DPIDM (SD1.5 based); tiny: a tiny "
                                       "UNTRAINED model that checks the install in about a minute.")] = "sd15",
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="A DPIDM checkpoint folder (what "
                                                       "`dpidm train` writes, with --model tiny too); default weights/dpidm/.")] = None,
    weights: WeightsRoot = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="DDIM steps (default 30; with --model tiny "
                                                 f"{MODEL_DEFAULTS['tiny']['steps']}).")] = None,
    guidance: Annotated[float, typer.Option("--guidance", help="Classifier-free guidance scale (1 = off).")] = 1.5,
    seed: Seed = 0,
    window: Annotated[int, typer.Option("--window", help="Frames per sliding window (T).")] = 24,
    overlap: Annotated[int, typer.Option("--overlap", help="Frames shared by neighbouring windows.")] = 8,
    weighting: Annotated[str, typer.Option("--weighting", help="How overlapping windows are averaged: "
                                           f"{' or '.join(WEIGHT_KINDS)}.")] = "flat",
    height: Annotated[Optional[int], typer.Option("--height", help="Model input height (default 512; with "
                                                  f"--model tiny {MODEL_DEFAULTS['tiny']['height']}).")] = None,
    width: Annotated[Optional[int], typer.Option("--width", help="Model input width (default 384; with "
                                                 f"--model tiny {MODEL_DEFAULTS['tiny']['width']}).")] = None,
    device: Device = "auto",
    dtype: Dtype = "fp32",
    attention: Annotated[str, typer.Option("--attention", help="Attention kernel: auto, sdpa or xformers.")] = "auto",
    preview: Annotated[bool, typer.Option("--preview", help="Also write OUT.preview.mp4: input | garment | "
                                          "output.")] = False,
    keep_intermediates: Annotated[bool, typer.Option("--keep-intermediates", help="Also write the pose, mask and "
                                                     "agnostic videos to OUT_intermediates/.")] = False,
) -> None:
    """Dress the person in a video in a garment: pose, mask, DPIDM diffusion, paste-back, mp4 with the audio."""
    if model not in MODEL_DEFAULTS:
        raise typer.BadParameter(f"choose from {', '.join(MODEL_DEFAULTS)}", param_hint="--model")
    if category not in CATEGORIES:
        raise typer.BadParameter(f"choose from {', '.join(CATEGORIES)}", param_hint="--category")
    if weighting not in WEIGHT_KINDS:
        raise typer.BadParameter(f"choose from {', '.join(WEIGHT_KINDS)}", param_hint="--weighting")
    if pairs is None and (video is None or garment is None):
        raise InputError("give a VIDEO and a GARMENT, or --pairs FILE (see `dpidm tryon --help`)")
    # Checked before the model is built (a minute for the real one), so that a typo fails at once.
    batch = read_pairs(pairs, output) if pairs is not None else None
    for kind, path in (("video", video), ("garment", garment), ("mask video", mask)):
        if pairs is None and path is not None and not path.is_file():
            raise InputError(f"{kind} file not found: {path}")
    defaults = MODEL_DEFAULTS[model]
    options = dict(
        category=category, mask=mask, frames=_parse_frames(frames), steps=steps or defaults["steps"],
        guidance=guidance, seed=seed, window=window, overlap=overlap, weighting=weighting,
        height=height or defaults["height"], width=width or defaults["width"], preview=preview,
        keep_intermediates=keep_intermediates,
    )
    # torch, diffusers and the models load only now: `dpidm --help` and argument errors stay fast.
    from tryon_cli.pipelines.runtime import torch_device, torch_dtype
    from tryon_cli.pipelines.tryon_pipeline import DPIDMTryOnPipeline

    console = Console(stderr=True)
    build = dict(device=torch_device(device), dtype=torch_dtype(dtype), attention=attention)
    if model == "tiny" and checkpoint is not None:
        # A checkpoint holds only DPIDM's trained modules; the tiny frozen base is rebuilt as training built it.
        from tryon_cli.models.dpidm import TINY_BASE_SEED

        pipe = DPIDMTryOnPipeline.tiny(seed=TINY_BASE_SEED, checkpoint=checkpoint, **build)
    elif model == "tiny":
        pipe = DPIDMTryOnPipeline.tiny(seed=seed, **build)
        console.print("[bold yellow]note:[/] --model tiny is UNTRAINED (random weights): the result checks the "
                      "install, it is not a try-on. The mp4's comment metadata says so too.")
    else:
        pipe = DPIDMTryOnPipeline.from_pretrained(checkpoint, weights_root=weights, **build)

    with _sigterm_as_interrupt():
        _run(pipe, video, garment, output, batch, options, console)


def _run(pipe, video, garment, output, batch, options, console) -> None:
    if batch is None:
        with Stages(console=console) as stages:
            result = pipe(video, garment, output, stages=stages, **options)
        console.print(f"wrote {result.video} ({result.frame_count} frames, {result.width}x{result.height}, "
                      f"{result.fps:.3f} fps)" + (" [yellow]UNTRAINED model[/]" if result.untrained else ""))
        return

    todo, done = pending(my_share(batch))
    console.print(f"{len(done)} pair(s) already done, {len(todo)} to do")
    failed = []
    for number, pair in enumerate(todo, 1):
        console.print(f"[{number}/{len(todo)}] {pair.video.name} + {pair.garment.name} -> {pair.output}")
        try:
            with Stages(console=console) as stages:
                pipe(pair.video, pair.garment, pair.output, stages=stages,
                     **{**options, "category": pair.category or options["category"]})
        except DpidmError as err:
            console.print(f"[red]failed:[/] {err}")
            failed.append(pair)
    if failed:
        raise InputError(f"{len(failed)} of {len(todo)} pair(s) failed (see above); rerun to retry them")
