"""`dpidm tryon`: a person video and a garment photo in, a try-on video out (or many pairs with --pairs).

Thin: flags become a frozen `TryOnSettings` and an engine (`engines.build_engine`); `tryon.run_tryon` does the
work. Library errors name settings ("frames 10:30 is outside ..."); here they are given their flags.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from tryon_cli.cli.interrupts import interruptible
from tryon_cli.cli.options import Category, Device, Dtype, Seed, WeightsRoot, check_cuda_present, resolve_device
from tryon_cli.cli.pose import check_device_spelling
from tryon_cli.cli.progress import note_line
from tryon_cli.engines import DTYPES, ENGINES
from tryon_cli.engines.trained_on import (
    ALLOW_FLAG,
    WINDOW,
    check_pose_backend,
    checkpoint_read,
    mask_note,
    trained_on,
)
from tryon_cli.errors import DpidmError, InputError, SettingError
from tryon_cli.pipelines.choices import MODEL_DEFAULTS, WEIGHT_KINDS
from tryon_cli.pipelines.sliding_window import check_window
from tryon_cli.tryon.batch import CATEGORIES, my_share, pending, read_pairs

EPILOG = (
    "Examples:\n\n"
    "  dpidm tryon person.mp4 shirt.jpg -o out.mp4           # DPIDM with weights/dpidm/, else the warp engine\n\n"
    "  dpidm tryon examples/person.mp4 examples/garment_upper_00057_00.jpg -o out.mp4 --model tiny\n\n"
    "  dpidm tryon person.mp4 skirt.jpg -o out.mp4 --category lower --frames 0:96 --checkpoint run/checkpoints/80000\n\n"  # noqa: E501
    "  dpidm tryon person.mp4 dress.jpg -o out.mp4 --category dress --mask my_mask.mp4 --preview --keep-intermediates\n\n"  # noqa: E501
    "  accelerate launch --no_python dpidm tryon --pairs pairs.txt -o results/   # split over GPUs, resumable\n\n"
    "A pairs file has one 'VIDEO GARMENT [upper|lower|dress]' per line (paths relative to the file); existing\n"
    "outputs are skipped, so a killed run resumes where it stopped."
)
GUIDANCE = 1.5  # the paper's classifier-free guidance scale (engines.dpidm_sampling.DPIDMSampling's default)
MAX_STEPS = 1000  # DDIM cannot take more steps than the noise schedule has timesteps (SD1.5 and tiny: 1000)
# models.attention.backend.BACKENDS, which loads torch and diffusers; a test keeps the two equal.
ATTENTIONS = ("auto", "sdpa", "xformers")
VAE_FACTOR = 8  # SD1.5's VAE halves the size 3 times; the tiny one once, so a multiple of 8 suits both
MISSING_CHECKPOINT_ADVICE = (
    "train one with `dpidm train` and pass its OUT/checkpoints/<step> folder with "
    "--checkpoint (or copy it to {default}); to check the install without one, use "
    "--model tiny"
)


def _parse_frames(value: Optional[str]) -> Optional[tuple[int, Optional[int]]]:
    if value is None:
        return None
    start, sep, stop = value.partition(":")
    try:
        if not sep:
            raise ValueError
        first, end = int(start or 0), (int(stop) if stop else None)
    except ValueError:
        raise typer.BadParameter(f"expected START:END (e.g. 10:30 or 24:), got {value!r}", param_hint="--frames")
    if first < 0:
        raise InputError(f"--frames {value}: START must be 0 or more (the first frame is 0)")
    if end is not None and end < first:
        raise InputError(f"--frames {value}: END ({end}) is before START ({first})")
    if end == first:
        raise InputError(f"--frames {value} is an empty range (END is exclusive: {first}:{first + 1} is one frame)")
    return first, end


@contextmanager
def _as_flags(weights: Optional[Path]):
    """Library errors in the words of the command line: a setting becomes its flag."""
    from tryon_cli.engines import MissingCheckpointError, default_checkpoint

    try:
        yield
    except SettingError as err:
        raise InputError(f"--{err.setting.replace('_', '-')} {err.detail}") from None
    except MissingCheckpointError as err:
        advice = MISSING_CHECKPOINT_ADVICE.format(default=default_checkpoint(weights))
        raise MissingCheckpointError(f"{err}; {advice}") from None


def tryon(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Output mp4 (a folder with --pairs).")
    ] = None,
    video: Annotated[Optional[Path], typer.Argument(help="Person video (mp4, mov, ...).", dir_okay=False)] = None,
    garment: Annotated[Optional[Path], typer.Argument(help="Garment photo (jpg, png, ...).", dir_okay=False)] = None,
    pairs: Annotated[
        Optional[Path],
        typer.Option("--pairs", help="Batch: a file of 'VIDEO GARMENT [CATEGORY]' lines.", dir_okay=False),
    ] = None,
    category: Category = "upper",
    mask: Annotated[
        Optional[Path],
        typer.Option(
            "--mask",
            help="Your own mask video (white = repaint) instead of the automatic agnostic mask.",
            dir_okay=False,
        ),
    ] = None,
    frames: Annotated[Optional[str], typer.Option("--frames", help="Only frames START:END (END exclusive).")] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="auto: DPIDM when a checkpoint is given or in weights/dpidm/, "
            "else warp; warp: the weights-free warp engine (not the paper's DPIDM); sd15: "
            "the trained DPIDM (SD1.5 based); tiny: a tiny UNTRAINED DPIDM that checks "
            "the install in about a minute.",
        ),
    ] = "auto",
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(
            "--checkpoint",
            help="A DPIDM checkpoint folder (what "
            "`dpidm train` writes, with --model tiny too); default weights/dpidm/.",
        ),
    ] = None,
    weights: WeightsRoot = None,
    steps: Annotated[
        Optional[int],
        typer.Option("--steps", help=f"DDIM steps (default 30; with --model tiny {MODEL_DEFAULTS['tiny']['steps']})."),
    ] = None,
    guidance: Annotated[
        Optional[float],
        typer.Option("--guidance", help=f"Classifier-free guidance scale (1 = off; default {GUIDANCE})."),
    ] = None,
    seed: Seed = 0,
    window: Annotated[
        Optional[int],
        typer.Option(
            "--window",
            help=f"Frames per sliding window (T) (default: the checkpoint's training clip length, else {WINDOW}).",
        ),
    ] = None,
    overlap: Annotated[
        Optional[int],
        typer.Option("--overlap", help="Frames shared by neighbouring windows (default: a third of the window)."),
    ] = None,
    weighting: Annotated[
        str, typer.Option("--weighting", help=f"How overlapping windows are averaged: {' or '.join(WEIGHT_KINDS)}.")
    ] = "flat",
    height: Annotated[
        Optional[int],
        typer.Option(
            "--height",
            help="Model input height (default: the checkpoint's training size, else 512; with --model tiny "
            f"{MODEL_DEFAULTS['tiny']['height']}).",
        ),
    ] = None,
    width: Annotated[
        Optional[int],
        typer.Option(
            "--width",
            help="Model input width (default: the checkpoint's training size, else 384; with --model tiny "
            f"{MODEL_DEFAULTS['tiny']['width']}).",
        ),
    ] = None,
    allow_other_pose_backend: Annotated[
        bool,
        typer.Option(ALLOW_FLAG, help="Run a checkpoint on poses of another backend than the one it was trained with."),
    ] = False,
    device: Device = "auto",
    dtype: Dtype = "fp32",
    attention: Annotated[str, typer.Option("--attention", help="Attention kernel: auto, sdpa or xformers.")] = "auto",
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write OUT.preview.mp4: input | garment | output.")
    ] = False,
    keep_intermediates: Annotated[
        bool,
        typer.Option(
            "--keep-intermediates", help="Also write the pose, mask and agnostic videos to OUT_intermediates/."
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace outputs that exist (refused without it); with --pairs, redo the pairs already done.",
        ),
    ] = False,
) -> None:
    """Dress the person in a video in a garment: pose, mask, an engine (DPIDM or warp), paste-back, mp4 with audio."""
    if model not in ENGINES:
        raise typer.BadParameter(f"choose from {', '.join(ENGINES)}", param_hint="--model")
    if category not in CATEGORIES:
        raise typer.BadParameter(f"choose from {', '.join(CATEGORIES)}", param_hint="--category")
    if pairs is None and (video is None or garment is None) or output is None:
        raise InputError(
            "give a person VIDEO, a GARMENT photo and -o OUT.mp4, or --pairs FILE -o DIR (see `dpidm tryon --help`)"
        )
    # Checked before the model is built (a minute for the real one), so that a typo fails at once.
    batch = read_pairs(pairs, output) if pairs is not None else None
    for kind, path in (("video", video), ("garment", garment), ("mask video", mask)):
        if path is not None and not path.is_file() and (pairs is None or kind == "mask video"):
            raise InputError(f"{kind} file not found: {path}")
    with _as_flags(weights):
        # The window is known now unless a checkpoint's training clip length sets it (read after the files: reading
        # it imports torch): --overlap 24 against the default window of 24 is refused before anything is decoded.
        known = window if window is not None or checkpoint_read(model, checkpoint, weights) else WINDOW
        _check_ranges(steps, guidance, known, overlap, height, width, dtype, weighting, attention)
    # Before torch is imported (7-11 s and 1 GiB): a checkpoint that is not there, CUDA on a machine without it.
    if checkpoint is not None and not checkpoint.exists():
        raise InputError(f"--checkpoint {checkpoint} not found")
    check_cuda_present(device)
    with _as_flags(weights):
        from tryon_cli.engines import require_checkpoint

        require_checkpoint(model, checkpoint, weights)
        from tryon_cli.tryon.request import check_batch_outputs, check_request
        from tryon_cli.tryon.settings import TryOnSettings

        # The files and the range, before torch is imported and the engine built (a minute).
        requested = TryOnSettings(
            category=category,
            mask=mask,
            frames=_parse_frames(frames),
            preview=preview,
            keep_intermediates=keep_intermediates,
            # --pairs replaces what an interrupted run left of a pair that is not done (`batch.pending`).
            overwrite=overwrite or batch is not None,
        )
        if batch is None:
            check_request(video, garment, output, requested)
        else:
            check_batch_outputs(output, batch, requested)
        from tryon_cli.engines import build_engine, resolve_model
        from tryon_cli.engines.dpidm_sampling import DPIDMSampling

        kind = resolve_model(model, checkpoint, weights)
        defaults = MODEL_DEFAULTS[kind]
        trained = trained_on(kind, checkpoint, weights)
        check_pose_backend(trained, weights, allow_other_pose_backend)
        window = _default(window, trained.window)
        overlap = _default(overlap, window // 3)
        _check_ranges(steps, guidance, window, overlap, height, width, dtype, weighting, attention)
        sampling = DPIDMSampling(
            steps=_default(steps, defaults["steps"] or 1),
            guidance=_default(guidance, GUIDANCE),
            seed=seed,
            window=window,
            overlap=overlap,
            weighting=weighting,
        )
        # The warp engine runs on the CPU. --device is then where the pose and garment models run, resolved when one
        # loads (`human_pose.model_device`): resolving it here imported torch, about 0.8 GB of resident memory and
        # seconds of start-up, even when the poses are cached and no model loads.
        if kind == "warp":
            check_device_spelling(device)  # CUDA's presence was checked above
        torch_device = "cpu" if kind == "warp" else resolve_device(device)
        settings = replace(
            requested,
            height=_default(height, trained.height or defaults["height"]),
            width=_default(width, trained.width or defaults["width"]),
            weights=weights,
            device=device if kind == "warp" else "cuda" if torch_device.startswith("cuda") else "cpu",
        )
        console = Console(stderr=True, soft_wrap=True)  # a note is one line in a log too
        note = mask_note(trained)
        if note:
            console.print(f"note: {note}", highlight=False)
        engine = build_engine(
            model,
            checkpoint=checkpoint,
            weights_root=weights,
            device=torch_device,
            dtype=dtype,
            attention=attention,
            sampling=sampling,
            notes=lambda line: console.print(note_line(line), highlight=False),
        )
        if engine.untrained:
            console.print(
                f"[bold yellow]note:[/] --model {kind} is UNTRAINED (random weights): the result checks the "
                "install, it is not a try-on. The mp4's comment metadata says so too."
            )
        elif getattr(engine, "test_model", False):
            console.print(
                "[bold yellow]note:[/] the checkpoint has the tiny base, a TEST model: the result checks training "
                'and the install, it is not a try-on. The mp4\'s comment says "test_model": true.'
            )
        ignored = [flag for flag, value in (("--steps", steps), ("--guidance", guidance)) if value is not None]
        if engine.name == "warp" and ignored:
            console.print(f"note: {' and '.join(ignored)} set DPIDM's sampling; the warp engine has none: ignored")
        kept = "; the pairs done before it are kept, rerun to resume" if batch is not None else ""
        with interruptible(console, kept) as interrupts:
            _run(engine, video, garment, output, batch, settings, overwrite, console, interrupts.check)


def _default(value, default):
    """The flag's value, or the model's default when it was not given (0 is a value, and refused, not a default)."""
    return default if value is None else value


def _check_ranges(steps, guidance, window, overlap, height, width, dtype, weighting, attention) -> None:
    """Option values in range, whatever the clip's length: one line before anything is read or built."""
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be 1 to {MAX_STEPS} (the scheduler's training timesteps), got {steps}")
    if guidance is not None and not math.isfinite(guidance):
        raise InputError(f"--guidance must be a finite number, got {guidance}")
    check_window(window, 0 if overlap is None else overlap)  # SettingError: `_as_flags` names the flag
    for flag, value in (("--height", height), ("--width", width)):
        if value is not None and (value < VAE_FACTOR or value % VAE_FACTOR):
            raise InputError(
                f"{flag} must be a positive multiple of {VAE_FACTOR} (the VAE's downsampling), got {value}"
            )
    for flag, value, choices in (
        ("--dtype", dtype, DTYPES),
        ("--weighting", weighting, WEIGHT_KINDS),
        ("--attention", attention, ATTENTIONS),
    ):
        if value not in choices:
            raise InputError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")


def _run(engine, video, garment, output, batch, settings, overwrite, console, check) -> None:
    from tryon_cli.cli.progress import StageProgress
    from tryon_cli.tryon.application import run_tryon

    if batch is None:
        with StageProgress(console, check=check) as progress:
            result = run_tryon(engine, video, garment, output, settings, progress)
        console.print(
            f"wrote {result.video} ({result.frame_count} frames, {result.width}x{result.height}, "
            f"{result.fps:.3f} fps, engine {result.engine})"
            + (" [yellow]UNTRAINED model[/]" if result.untrained else "")
        )
        return

    todo, done = (my_share(batch), []) if overwrite else pending(my_share(batch), settings)
    console.print(f"{len(done)} pair(s) already done, {len(todo)} to do")
    failed = []
    for number, pair in enumerate(todo, 1):
        console.print(f"[{number}/{len(todo)}] {pair.video.name} + {pair.garment.name} -> {pair.output}")
        try:
            with _as_flags(settings.weights), StageProgress(console, check=check) as progress:
                run_tryon(
                    engine,
                    pair.video,
                    pair.garment,
                    pair.output,
                    replace(settings, category=pair.category or settings.category),
                    progress,
                )
        except DpidmError as err:
            console.print(f"[red]failed:[/] {err}")
            failed.append(pair)
    if failed:
        raise InputError(f"{len(failed)} of {len(todo)} pair(s) failed (see above); rerun to retry them")
