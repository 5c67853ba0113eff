"""Streaming video reading with exact metadata, through the bundled ffmpeg.

Frames come out one at a time as RGB uint8 (H, W, 3) arrays, upright: ffmpeg applies the stream's rotation (its
display matrix, which is also where the legacy `rotate` tag ends up) while decoding, so `width` and `height` in the
metadata are the displayed size, and `rotation` only records what was applied.
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Iterator, Optional

import imageio_ffmpeg
import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.io._paths import require_file
from tryon_cli.io.ffmpeg import run_ffmpeg


class _UprightSizeNotice(logging.Filter):
    """imageio-ffmpeg warns when the decoded size differs from the coded size; for rotated videos that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_UprightSizeNotice())

# Decode exactly the frames the first video stream holds: `passthrough` stops ffmpeg from duplicating or dropping
# frames to force a constant rate, so the probe's count and the reader's frames agree.
_DECODE_ARGS = ["-map", "0:v:0", "-fps_mode", "passthrough", "-an", "-sn", "-dn"]


@dataclass(frozen=True)
class VideoMeta:
    """What `open_video` learned about a video. Sizes are of the upright frames the reader yields."""

    path: Path
    fps: float  # the stream's frame rate, exact from its rational value (24000/1001 -> 23.976023...)
    frame_count: int  # decoded frames, counted by decoding the whole stream once
    width: int
    height: int
    rotation: int  # degrees clockwise the stored frames were turned to be upright (0, 90, 180, 270)
    duration: float  # frame_count / fps, in seconds
    has_audio: bool
    codec: str

    @property
    def frame_rate(self) -> Fraction:
        """The frame rate as a fraction, for writers that want it exact."""
        return Fraction(self.fps).limit_denominator(1_000_000)

    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path), "frame_rate": str(self.frame_rate)}


def probe_video(path: str | Path) -> VideoMeta:
    """Read a video's metadata; decodes it once (that is what makes the frame count exact)."""
    path = require_file(path, "video")
    # framecrc writes one line per decoded frame and, in its header, the encoder time base, which ffmpeg sets to
    # 1 / (the stream's frame rate) as an exact fraction; its stderr carries the input's stream description.
    result = run_ffmpeg("-i", str(path), *_DECODE_ARGS, "-f", "framecrc", "-")
    log = result.stderr
    if "matches no streams" in log:
        raise InputError(f"no video stream in {path}")
    if "partial file" in log:
        raise InputError(f"video {path} ends early (truncated or still being written)")
    if result.returncode != 0:
        opening = re.search(r"Error opening input: (.+)", log)
        reason = f"{opening[1].strip()} (not a video, or an incomplete one)" if opening else "ffmpeg cannot decode it"
        raise InputError(f"cannot read video {path}: {reason}")

    header = {m[1]: m[2] for m in re.finditer(r"^#(\w+) 0: (.+)$", result.stdout, re.MULTILINE)}
    frame_count = sum(1 for line in result.stdout.splitlines() if line and not line.startswith("#"))
    if frame_count == 0 or "tb" not in header:
        raise InputError(f"video {path} has no decodable frames")
    tb_num, tb_den = (int(v) for v in header["tb"].split("/"))
    width, height = (int(v) for v in header["dimensions"].split("x"))
    fps = Fraction(tb_den, tb_num)

    source = log.split("Stream mapping:")[0]  # the input's description, not the output's
    video_line = re.search(r"Stream #0:\d+.*?: Video: (\w+)", source)
    # ffmpeg prints the display matrix angle counterclockwise; the legacy `rotate` tag counts clockwise.
    angle = re.search(r"rotation of (-?[\d.]+) degrees", source, re.IGNORECASE)
    rotation = round(-float(angle[1])) % 360 if angle else 0
    return VideoMeta(
        path=path,
        fps=float(fps),
        frame_count=frame_count,
        width=width,
        height=height,
        rotation=rotation,
        duration=float(frame_count / fps),
        has_audio=re.search(r"Stream #0:\d+.*?: Audio: ", source) is not None,
        codec=video_line[1] if video_line else "unknown",
    )


class VideoReader:
    """A video opened for streaming. Iterate it (any number of times) for frames; `len()` is the frame count.

    Each iteration runs its own ffmpeg process that decodes into a pipe, so only the frame being handed out is in
    memory. Use it as a context manager (or call `close`) to stop unfinished iterations' ffmpeg processes early.
    """

    def __init__(self, path: str | Path):
        self.meta = probe_video(path)
        self.path = self.meta.path
        self._iterations: "weakref.WeakSet" = weakref.WeakSet()

    def __len__(self) -> int:
        return self.meta.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames()

    def frames(self, start: int = 0, stop: Optional[int] = None) -> Iterator[np.ndarray]:
        """Frames `start` (inclusive) to `stop` (exclusive, None = the end), decoded in order (no seeking)."""
        if start < 0 or (stop is not None and stop < start):
            raise ValueError(f"bad frame range start={start} stop={stop}")
        iteration = self._stream(start, stop)
        self._iterations.add(iteration)
        return iteration

    def _stream(self, start: int, stop: Optional[int]) -> Iterator[np.ndarray]:
        decoder = imageio_ffmpeg.read_frames(str(self.path), output_params=_DECODE_ARGS)
        try:
            width, height = next(decoder)["size"]
            for raw in islice(decoder, start, stop):
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3).copy()
        except (RuntimeError, OSError) as err:
            raise InputError(f"decoding {self.path} failed: {str(err).splitlines()[0]}") from err
        finally:
            decoder.close()  # stops ffmpeg when the consumer leaves early

    def close(self) -> None:
        for iteration in list(self._iterations):
            iteration.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video(path: str | Path) -> VideoReader:
    """Open a video for streaming; raises InputError (one line naming the file) when it is not a readable video."""
    return VideoReader(path)


def read_frames(path: str | Path, start: int = 0, stop: Optional[int] = None) -> Iterator[np.ndarray]:
    """Stream the frames `start`..`stop` of a video. The file is checked now, not at the first frame."""
    return open_video(path).frames(start, stop)
