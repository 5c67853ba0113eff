"""Cheap checks that two inputs belong together, done on metadata before any frame is decoded."""

from __future__ import annotations

from pathlib import Path

from tryon_cli.errors import InputError
from tryon_cli.io.images import is_still_image
from tryon_cli.io.video import VideoMeta

ASPECT_TOLERANCE = 0.02
"""Relative difference of width/height up to which a companion video (a mask) is resized to the video's size."""


def check_companion_video(companion: VideoMeta, video: VideoMeta, frames_needed: int, what: str = "mask video") -> None:
    """A video that gives one frame per frame of `video` (a mask) must be long enough and of the same shape.

    A different size with the same aspect is resized by its reader; a different aspect means another video's mask.
    """
    if companion.frame_count < frames_needed:
        raise InputError(
            f"{what} {companion.path} has {companion.frame_count} frames; {video.path} needs {frames_needed}"
        )
    aspect, expected = companion.width / companion.height, video.width / video.height
    if abs(aspect / expected - 1) > ASPECT_TOLERANCE:
        raise InputError(
            f"{what} {companion.path} is {companion.width}x{companion.height}, which is not the shape "
            f"of {video.path} ({video.width}x{video.height})"
        )


def check_person_video(video: Path, garment: Path | None = None) -> None:
    """The person video is not a photo (ffmpeg reads a photo as a one-frame video, which was then "tried on").
    With the command's garment photo given, a video and a photo in each other's places are named as swapped."""
    if not is_still_image(video):
        return
    if garment is not None and garment.is_file() and not is_still_image(garment):
        raise InputError(
            f"{video} is a photo and {garment} is not: the person video and the garment photo look swapped "
            "(the video comes first)"
        )
    raise InputError(f"{video} is a still image, not a video of a person")
