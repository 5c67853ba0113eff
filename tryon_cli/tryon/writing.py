"""Paste-back and writing: each generated crop put back into its source frame, the mp4 with audio and metadata.

Paste-back changes pixels only inside the feathered repaint mask, only where the crop reaches (not its grey
padding past the frame's border) and only where the engine changed its crop: a crop pixel equal to the source
crop's (the warp engine keeps the source's pixels wherever it draws no garment) is not pasted, so the frame keeps
its own full-resolution pixel there instead of the crop's resampled one. Every other pixel is the input frame's.
The encoder writes a scratch file in a temporary folder; the last step muxes the source audio and the run's JSON
comment into the output's temporary file. The output, the preview and the intermediates then appear together; an
error or an interrupt at any point leaves none of them and no scratch files.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack, closing
from itertools import chain
from pathlib import Path
from typing import Iterator

import numpy as np

from tryon_cli.engines.base import Progress
from tryon_cli.io import VideoWriter, atomic_outputs
from tryon_cli.io.writer import mux_audio
from tryon_cli.preprocess import conditioning
from tryon_cli.preprocess import crop as cropping
from tryon_cli.preprocess.conditioning import GarmentInput
from tryon_cli.tryon import compositing
from tryon_cli.tryon.clip import FullFrame, VideoCropClip, crop_frame
from tryon_cli.tryon.request import INTERMEDIATES

# Paste-back feather in output pixels, relative to the frame's short side (6 px on 832x624).
FEATHER_FRACTION = 0.01


def paste_back(full: FullFrame, crop: np.ndarray) -> np.ndarray:
    """The source frame with the generated `crop` blended in inside the feathered mask, where it differs from
    the source's own crop."""
    size = full.frame.shape[:2]
    feather = max(1, round(FEATHER_FRACTION * min(size)))
    covered = np.ones(crop.shape[:2], np.float32)
    changed = (crop != cropping.crop(full.frame, full.box, *crop.shape[:2])).any(axis=2).astype(np.float32)
    alpha = compositing.feather_alpha(full.mask, feather)
    alpha *= compositing.uncrop(covered, full.box, *size) > 0.999
    alpha *= compositing.uncrop(changed, full.box, *size)
    return compositing.paste(full.frame, compositing.uncrop(crop, full.box, *size), alpha)


def write_tryon(
    crops: Iterator[np.ndarray],
    clip: VideoCropClip,
    garment: GarmentInput,
    output: Path,
    *,
    audio_from: Path,
    comment: str,
    preview: Path | None,
    intermediates: Path | None,
    progress: Progress,
) -> None:
    """Consume the engine's crops, paste them back, write `output` and the side files: all of them appear together
    when every one is complete (`atomic_outputs`), none on an error or an interrupt."""
    with ExitStack() as stack:
        # Entered first, so left last: the side writers have finished their files when the group is committed.
        group = stack.enter_context(atomic_outputs())
        side = _side_writers(
            stack,
            clip.fps,
            group.file(preview) if preview is not None else None,
            group.folder(intermediates) if intermediates is not None else None,
        )
        final = group.file(output)
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dpidm-"))) / "video.mp4"
        crops = stack.enter_context(closing(crops))
        first = next(crops, None)  # the engine's own stages (encoding, denoising) run here
        written = 0
        with (
            VideoWriter(scratch, clip.fps) as writer,
            closing(clip.full_frames()) as frames,
            progress.task("pasting + writing", total=clip.num_frames) as advance,
        ):
            # The engine's crops first: zip stops at the first iterator that ends, and only a generator run to its
            # end finishes its work after the last frame (the warp engine's one note naming the frames it left).
            for crop, full in zip(chain([first], crops) if first is not None else (), frames):
                result = paste_back(full, crop)
                writer.write(result)
                _write_side(side, full, crop, result, garment, clip)
                written += 1
                advance()
            if written != clip.num_frames:
                raise RuntimeError(f"the engine gave {written} frames for a clip of {clip.num_frames}")
        with progress.task("adding audio", total=1) as advance:
            mux_audio(
                scratch,
                audio_from,
                final,
                clip.num_frames / clip.fps,
                clip.start / clip.fps,
                {"comment": comment},
                shown=output,
            )
            advance()


def _side_writers(stack: ExitStack, fps: float, preview: Path | None, intermediates: Path | None) -> dict:
    writers = {}
    if preview is not None:
        writers["preview"] = stack.enter_context(VideoWriter(preview, fps))
    if intermediates is not None:
        # What the engine saw (pose maps and agnostic crops at model size), and the repaint mask at full size in
        # the format --mask reads, so it can be edited and fed back.
        for name in INTERMEDIATES:
            writers[name] = stack.enter_context(VideoWriter(intermediates / f"{name}.mp4", fps))
    return writers


def _write_side(
    side: dict, full: FullFrame, crop: np.ndarray, result: np.ndarray, garment: GarmentInput, clip: VideoCropClip
) -> None:
    if not side:
        return
    height, width = clip.height, clip.width
    if "preview" in side:
        side["preview"].write(
            np.concatenate(
                [
                    cropping.crop(full.frame, full.box, height, width),
                    garment.image,
                    cropping.crop(result, full.box, height, width),
                ],
                axis=1,
            )
        )
    if "pose" in side:
        seen = crop_frame(full, height, width)
        side["pose"].write(conditioning.human_pose_map(seen.pose, height, width))
        side["mask"].write(np.repeat(full.mask[..., None].astype(np.uint8) * 255, 3, axis=2))
        side["agnostic"].write(seen.agnostic)
