"""`run_tryon`: a person video and a garment photo in, a try-on video out, through any engine.

1. Check every input before any expensive work (files, frame range, mask video length, the engine's size).
2. Human pose of the whole video (cached by its content), sliced to the frames asked for; a crop box per frame
   around the person at the engine's aspect (`framing.crop_boxes`).
3. The garment photo: landmarks, fitted to the engine's frame, its pose map (`conditioning.garment_input`).
4. The engine turns the `VideoCropClip` (crops streamed from the video) into crops; `writing` pastes them back
   and writes the mp4 with the source audio and a JSON comment naming the engine and its settings.

Choice: the whole video is posed, so that a frame gets the same pose whatever `frames` range is asked for, and a
second run on the same video (another garment, seed or range) skips pose estimation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tryon_cli.engines.base import Engine, GarmentInput, Progress
from tryon_cli.errors import InputError
from tryon_cli.io import probe_video, read_image
from tryon_cli.progress import NullProgress
from tryon_cli.tryon import conditioning, framing
from tryon_cli.tryon.clip import VideoCropClip
from tryon_cli.tryon.settings import SettingError, TryOnSettings
from tryon_cli.tryon.writing import side_paths, write_tryon
from tryon_cli.weights import path_of

# Crops join the person's boxes over this many frames each side: half the paper's 24-frame window, so limbs that
# swing out within a window stay inside its crops (see `framing`).
CROP_RADIUS = 12


@dataclass
class TryOnOutput:
    """What a run produced: the video, and the side files asked for."""

    video: Path
    frame_count: int
    fps: float
    width: int
    height: int
    untrained: bool
    engine: str
    preview: Path | None = None
    intermediates: Path | None = None


def run_tryon(engine: Engine, video: str | Path, garment: str | Path, output: str | Path,
              settings: TryOnSettings = TryOnSettings(), progress: Progress | None = None) -> TryOnOutput:
    """Dress the person of `video` in `garment` with `engine`; write the result to `output` (mp4, atomically)."""
    progress = progress or NullProgress()
    video, garment, output = Path(video), Path(garment), Path(output)
    meta = probe_video(video)
    start, stop = settings.frame_range(meta.frame_count)
    _check_outputs(output, [video, garment, settings.mask], settings)
    if settings.mask is not None:
        mask_frames = probe_video(settings.mask).frame_count
        if mask_frames < stop:
            raise SettingError("mask", f"video {settings.mask} has {mask_frames} frames, the video needs {stop}")
    if hasattr(engine, "check_size"):
        engine.check_size(settings.height, settings.width)
    photo = read_image(garment)

    poses = _human_poses(video, meta.frame_count, settings, progress).slice(start, stop)
    boxes = framing.crop_boxes(poses.body, meta.width, meta.height, settings.height, settings.width,
                               radius=CROP_RADIUS)
    garment_input = _garment_input(photo, settings, progress)
    clip = VideoCropClip(video, start, poses, boxes, category=settings.category, mask_video=settings.mask,
                         height=settings.height, width=settings.width, fps=meta.fps)
    comment = json.dumps({"generator": "dpidm tryon", "engine": engine.name, "untrained": engine.untrained,
                          "category": settings.category, **engine.metadata()})
    preview, intermediates = side_paths(output, settings.preview, settings.keep_intermediates)
    write_tryon(engine.generate(clip, garment_input, progress), clip, garment_input, output, audio_from=meta.path,
                comment=comment, preview=preview, intermediates=intermediates, progress=progress)
    return TryOnOutput(video=output, frame_count=stop - start, fps=meta.fps, width=meta.width, height=meta.height,
                       untrained=engine.untrained, engine=engine.name, preview=preview, intermediates=intermediates)


def _check_outputs(output: Path, inputs: list[Path | None], settings: TryOnSettings) -> None:
    """No input is ever overwritten, by the output or by its side files."""
    preview, intermediates = side_paths(output, settings.preview, settings.keep_intermediates)
    targets = [p.resolve() for p in (output, preview) if p is not None]
    for path in inputs:
        if path is not None and path.resolve() in targets:
            raise InputError(f"the output {path} is also an input; choose another output name")
    if intermediates is not None and intermediates.is_file():
        raise InputError(f"{intermediates} is a file; the intermediates folder would replace it")


def _human_poses(video: Path, frame_count: int, settings: TryOnSettings, progress: Progress):
    from tryon_cli.preprocess.human_pose import video_poses

    with progress.task("pose frames", total=frame_count) as advance:
        poses = video_poses(video, device=settings.device, weights=settings.weights,
                            progress=lambda t: advance())
    for note in poses.notes:
        progress.note(note)
    return poses


def _garment_input(photo, settings: TryOnSettings, progress: Progress) -> GarmentInput:
    from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks

    with progress.task("garment landmarks", total=1) as advance:
        model_path = path_of("garment-landmarks", settings.weights)
        landmarks, notes = detect_garment_landmarks(photo, settings.category, model_path, device=settings.device)
        advance()
    for note in notes:
        progress.note(note)
    return conditioning.garment_input(photo, landmarks, settings.height, settings.width)
