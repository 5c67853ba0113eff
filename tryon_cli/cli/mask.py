"""`dpidm mask`: the agnostic mask and agnostic video of a person video, in the ViViD dataset's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from tryon_cli.cli.interrupts import interruptible
from tryon_cli.cli.options import Category, Device, OutputDir, Overwrite, WeightsRoot
from tryon_cli.cli.pose import PoseBackend, _device, check_device
from tryon_cli.cli.progress import note_line, progress_bar
from tryon_cli.io import (
    check_companion_video,
    check_output,
    check_person_video,
    probe_video,
    read_frames,
    refuse_existing,
)

EPILOG = (
    "Examples:\n\n"
    "  dpidm mask person.mp4 --category upper -o data/   # data/agnostic_mask/person.mp4, data/agnostic/person.mp4\n\n"
    "  dpidm mask person.mp4 --category dress -o data/ --pose-backend dwpose\n\n"
    "  dpidm mask person.mp4 --category lower -o data/ --mask my_mask.mp4   # your mask, grey-filled agnostic\n\n"
    "White in agnostic_mask = the region the try-on repaints; agnostic = the video with it filled grey (128)."
)


def mask(
    video: Annotated[Path, typer.Argument(help="The person video.", exists=True, dir_okay=False)],
    category: Category = "upper",
    output: OutputDir = Path("."),
    user_mask: Annotated[
        Optional[Path],
        typer.Option(
            "--mask",
            help="Your own mask video (white = repaint) instead of the automatic one.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    pose_backend: PoseBackend = "auto",
    device: Device = "auto",
    weights: WeightsRoot = None,
    overwrite: Overwrite = False,
) -> None:
    """Agnostic mask (white = repaint) and agnostic video of a person video for a garment category."""
    from tryon_cli.preprocess.human_pose import resolve_backend, video_poses
    from tryon_cli.preprocess.mask_videos import read_mask_video, vivid_layout_paths, write_vivid_layout
    from tryon_cli.preprocess.masks import agnostic_masks, check_category

    # Everything that costs milliseconds first: options, output paths, the mask video; then the video itself.
    check_category(category)
    check_device(device)
    if user_mask is None:
        resolve_backend(pose_backend, weights)
    check_output(output, kind="folder")
    for path in vivid_layout_paths(output, video.stem):
        check_output(path, [video, user_mask], kind="video")
    refuse_existing(vivid_layout_paths(output, video.stem), overwrite)
    check_person_video(video)
    mask_meta = probe_video(user_mask) if user_mask is not None else None
    console = Console(stderr=True, soft_wrap=True)
    meta = probe_video(video)
    for note in meta.notes:
        console.print(note_line(note))
    if mask_meta is not None:
        check_companion_video(mask_meta, meta, meta.frame_count)
    frames = read_frames(video)
    with interruptible(console), progress_bar(console, transient=True) as progress:
        if user_mask is not None:
            masks = read_mask_video(user_mask, meta.height, meta.width)
        else:
            task = progress.add_task("pose frames", total=meta.frame_count)
            poses = video_poses(
                video,
                backend=pose_backend,
                device=_device(device),
                weights=weights,
                progress=lambda t: progress.advance(task),
            )
            console.print(f"pose backend: {poses.backend}")
            for note in poses.notes:
                console.print(note_line(note))
            # The masks read the frames too (long hair is found by its colour): a second decode, which holds a few
            # frames where sharing one decode between the two readers (itertools.tee) would hold up to 57.
            masks = agnostic_masks(poses, category, frames=read_frames(video))
        task = progress.add_task("masks", total=meta.frame_count)

        def counted(frames):
            for frame in frames:
                yield frame
                progress.advance(task)

        paths = write_vivid_layout(counted(frames), masks, output, video.stem, meta.fps, str(video))
    typer.echo(f"wrote {paths[0]} and {paths[1]}")
