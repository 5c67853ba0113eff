"""`dpidm pose`: human pose of a video (OpenPose JSON per frame + a pose video), garment landmarks of a photo,
and `dpidm pose train-garment`: training the garment landmark model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from PIL import Image
from rich.console import Console
from typer.core import TyperGroup

from tryon_cli.cli.interrupts import interruptible
from tryon_cli.cli.options import Category, Device, OutputDir, Overwrite, WeightsRoot, check_cuda_present
from tryon_cli.cli.progress import note_line, progress_bar
from tryon_cli.io import (
    VideoWriter,
    atomic_output,
    atomic_outputs,
    check_output,
    probe_video,
    read_image,
    refuse_existing,
)
from tryon_cli.weights import path_of

EPILOG = (
    "Examples:\n\n"
    "  dpidm pose person.mp4 -o poses/          # JSON per frame in poses/person/, video poses/person_pose.mp4\n\n"
    "  dpidm pose person.mp4 -o poses/ --pose-backend dwpose\n\n"
    "  dpidm pose shirt.jpg --category upper -o out/    # out/shirt_landmarks.json and out/shirt_landmarks.png\n\n"
    "  dpidm pose train-garment --data garments.yaml --epochs 100   # writes weights/garment/garment_landmarks.pt\n\n"
    "Poses of a video are cached by its content ($DPIDM_CACHE/pose, default ~/.cache/dpidm/pose); see\n"
    "docs/preprocessing.md for the formats and the garment annotation layout."
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}

PoseBackend = Annotated[
    str, typer.Option("--pose-backend", help="auto (DWPose when its weights are present, else yolo), dwpose or yolo.")
]


class _DefaultToEstimate(TyperGroup):
    """`dpidm pose INPUT ...` runs `estimate`; `dpidm pose train-garment ...` the training subcommand."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["estimate", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToEstimate,
    no_args_is_help=True,
    epilog=EPILOG,
    help="Human pose of a video, or garment landmarks of a photo (`dpidm pose INPUT` = `dpidm pose "
    "estimate INPUT`); train-garment trains the garment landmark model.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def check_device(name: str) -> str:
    """The --device spelling, and CUDA asked for on a machine without it, checked without torch (importing it takes
    seconds), so that either fails at once."""
    check_device_spelling(name)
    check_cuda_present(name)
    return name


def check_device_spelling(name: str) -> None:
    """--device for the pose and garment models is auto, cpu or cuda[:N] (`human_pose.model_device`)."""
    if name not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", name):
        raise typer.BadParameter(f"{name!r}: use auto, cpu, or cuda[:N]", param_hint="--device")


def _device(name: str) -> str:
    """The device string for ultralytics and onnxruntime (`human_pose.model_device`), its spelling checked first."""
    from tryon_cli.preprocess.human_pose import model_device

    return model_device(check_device(name))


@app.command("estimate", epilog=EPILOG)
def estimate(
    source: Annotated[
        Path, typer.Argument(help="A person video, or a garment photo (.jpg, .png, ...).", exists=True, dir_okay=False)
    ],
    output: OutputDir = Path("."),
    category: Category = "upper",
    pose_backend: PoseBackend = "auto",
    device: Device = "auto",
    weights: WeightsRoot = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute the video's poses even if cached.")] = False,
    overwrite: Overwrite = False,
) -> None:
    """Pose of a video (OpenPose JSON per frame + pose video), or landmarks of a garment photo (JSON + drawing)."""
    console = Console(stderr=True, soft_wrap=True)
    check_device(device)
    check_output(output, kind="folder")
    if source.suffix.lower() in IMAGE_SUFFIXES:
        from tryon_cli.preprocess.masks import check_category

        check_category(category)
        outputs = [output / f"{source.stem}{suffix}" for suffix in ("_landmarks.json", "_landmarks.png")]
        for path in outputs:
            check_output(path, [source], kind="file")
        refuse_existing(outputs, overwrite)
        with interruptible(console):
            _garment(source, output, category, device, weights, console)
    else:
        from tryon_cli.preprocess.human_pose import resolve_backend

        resolve_backend(pose_backend, weights)  # an unknown name, or DWPose without its files: one line now
        check_output(output / f"{source.stem}_pose.mp4", [source], kind="video")
        refuse_existing([output / source.stem, output / f"{source.stem}_pose.mp4"], overwrite)
        with interruptible(console):
            _video(source, output, pose_backend, device, weights, not no_cache, console)


def _video(
    source: Path, output: Path, backend: str, device: str, weights: Optional[Path], use_cache: bool, console: Console
) -> None:
    from tryon_cli.preprocess.human_pose import video_poses
    from tryon_cli.preprocess.openpose_json import write_openpose_files
    from tryon_cli.preprocess.pose_maps import render_pose_video

    meta = probe_video(source)
    for note in meta.notes:
        console.print(note_line(note))
    device = _device(device)
    with progress_bar(console, transient=True) as progress:
        task = progress.add_task("pose frames", total=meta.frame_count)
        poses = video_poses(
            source,
            backend=backend,
            device=device,
            use_cache=use_cache,
            weights=weights,
            progress=lambda t: progress.advance(task),
        )
    console.print(f"pose backend: {poses.backend}")
    for note in poses.notes:
        console.print(note_line(note))
    folder, video = output / source.stem, output / f"{source.stem}_pose.mp4"
    with atomic_outputs() as group:  # the JSON folder and the pose video appear together, or neither does
        write_openpose_files(poses, group.folder(folder), source.stem)
        with VideoWriter(group.file(video), meta.fps) as writer:
            for frame in render_pose_video(poses):
                writer.write(frame)
    typer.echo(f"wrote {len(poses)} OpenPose files to {folder}/ and the pose video {video}")


def _garment(source: Path, output: Path, category: str, device: str, weights: Optional[Path], console: Console) -> None:
    from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks
    from tryon_cli.preprocess.pose_maps import render_garment_pose

    image = read_image(source)
    landmarks, notes = detect_garment_landmarks(image, category, path_of("garment-landmarks", weights), _device(device))
    for note in notes:
        console.print(note_line(note))
    json_path, drawing_path = output / f"{source.stem}_landmarks.json", output / f"{source.stem}_landmarks.png"
    with atomic_output(json_path) as temporary:
        temporary.write_text(json.dumps(landmarks.to_json(), indent=2))
    pose_map = render_garment_pose(landmarks, *image.shape[:2])
    drawn = pose_map.any(axis=2, keepdims=True)
    drawing = np.where(drawn, pose_map, image // 2 + 64).astype(np.uint8)
    with atomic_output(drawing_path) as temporary:
        Image.fromarray(drawing).save(temporary)
    kind = "estimated from the silhouette" if landmarks.estimated else "from the garment model"
    typer.echo(f"wrote {len(landmarks.names)} {category} landmarks ({kind}) to {json_path} and {drawing_path}")


@app.command("train-garment", epilog=EPILOG)
def train_garment(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="YOLO-pose dataset yaml (format: docs/preprocessing.md).", exists=True, dir_okay=False
        ),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="Where the trained model goes (default: the weights path that `dpidm pose` reads).",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")] = 100,
    imgsz: Annotated[int, typer.Option("--imgsz", min=32, help="Training image size (pixels).")] = 640,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size.")] = 16,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Data loader workers.")] = 4,
    base: Annotated[
        str, typer.Option("--base", help="Ultralytics model yaml (from scratch) or a .pt to fine-tune.")
    ] = "yolov8n-pose.yaml",
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Let ultralytics draw its training plots.")] = True,
    device: Device = "auto",
    weights: WeightsRoot = None,
) -> None:
    """Train the garment landmark model (YOLOv8 pose, ultralytics) on a YOLO-pose dataset."""
    from tryon_cli.preprocess.garment_landmarks import train_garment as train

    target = check_output(output or path_of("garment-landmarks", weights), [data], kind="file")
    saved = train(
        data,
        output=target,
        epochs=epochs,
        imgsz=imgsz,
        base=base,
        device=_device(device),
        batch=batch,
        workers=workers,
        plots=plots,
    )
    typer.echo(f"wrote the garment landmark model {saved}")
