"""Writing H.264 mp4 videos (yuv420p, any frame rate), optionally with the audio track of a source video.

Odd sizes: yuv420p stores colour at half resolution, so libx264 needs an even width and height. A frame with an odd
side is padded by repeating its last column and/or row (no content is lost or rescaled); the written video is then
one pixel larger on that side, and reading it back gives the padded size. Even-sized frames are written unchanged.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Optional

import imageio_ffmpeg
import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.io._paths import require_file
from tryon_cli.io.atomic import atomic_output
from tryon_cli.io.ffmpeg import last_line, run_ffmpeg

# crf 18 is visually lossless for libx264 and keeps the round-trip error well under 3/255; faststart puts the index
# first so players can start before the whole file has arrived.
_ENCODE_ARGS = ["-crf", "18", "-movflags", "+faststart"]
MUX_TOLERANCE = 1e-6
"""An audio start (seconds) below this is the source's start: its audio can be copied."""
WRITE_FAILURES = ("No space left", "Disk quota", "Read-only file system", "Permission denied", "File too large")
"""ffmpeg's words for a file that cannot be written: a failed mux names the output, not the audio."""


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row/column of a frame whose height/width is odd (see the module docstring)."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


class VideoWriter:
    """Write RGB uint8 (H, W, 3) frames to an mp4 at `fps`; use as a context manager.

    The file appears at `path` only when the `with` block ends without an exception; on an error or Ctrl-C nothing
    is left behind (see `atomic_output`). With `audio_from`, that video's audio track (if it has one), from
    `audio_start` seconds on, is copied into the result and cut to the written video's length (see `mux_audio`).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        audio_from: Optional[str | Path] = None,
        audio_start: float = 0.0,
    ):
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        # A float fps read from a stream (23.976023976...) goes back to its exact ratio (24000/1001).
        self.fps = fps if isinstance(fps, Fraction) else Fraction(float(fps)).limit_denominator(1_000_000)
        self.audio_from = require_file(audio_from, "audio source video") if audio_from is not None else None
        self.audio_start = audio_start
        self.frame_count = 0
        self._size: Optional[tuple[int, int]] = None
        self._encoder = None
        self._stack: Optional[ExitStack] = None
        self._encoded: Optional[Path] = None  # what ffmpeg encodes into
        self._muxed: Optional[Path] = None  # the atomic temp file that becomes `path`

    def __enter__(self) -> "VideoWriter":
        self._stack = ExitStack()
        final_temp = self._stack.enter_context(atomic_output(self.path))
        if self.audio_from is None:
            self._encoded = self._muxed = final_temp
        else:  # encode to a second temp file, then mux video + audio into the atomic one
            self._muxed = final_temp
            self._encoded = final_temp.with_name(final_temp.stem + ".video" + final_temp.suffix)
            self._stack.callback(self._encoded.unlink, missing_ok=True)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one frame; every frame must have the size of the first."""
        if self._stack is None:
            raise RuntimeError("use VideoWriter as a context manager: `with VideoWriter(path, fps) as writer:`")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {frame.dtype} {frame.shape}")
        if self._size is None:
            self._size = frame.shape[:2]
            self._encoder = self._start_encoder(pad_to_even(frame).shape[:2])
        elif frame.shape[:2] != self._size:
            raise ValueError(f"frame {self.frame_count} is {frame.shape[:2]}, the first frame was {self._size} (H, W)")
        try:
            self._encoder.send(np.ascontiguousarray(pad_to_even(frame)))
        except OSError as err:  # ffmpeg quit: a full disk, a file system that refuses the file
            raise InputError(f"cannot write video {self.path}: {str(err).splitlines()[0]}") from err
        self.frame_count += 1

    def _start_encoder(self, size_hw: tuple[int, int]):
        encoder = imageio_ffmpeg.write_frames(
            str(self._encoded),
            size=(int(size_hw[1]), int(size_hw[0])),
            fps=self.fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,  # the crf below decides the quality
            macro_block_size=1,  # sizes are made even by pad_to_even, never rescaled
            ffmpeg_log_level="error",
            output_params=list(_ENCODE_ARGS),
        )
        encoder.send(None)  # starts ffmpeg
        return encoder

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack = self._stack, None
        try:
            if self._encoder is not None:
                self._encoder.close()  # lets ffmpeg finish the file (also on error: the file is removed anyway)
            if exc_type is None:
                if self.frame_count == 0:
                    raise ValueError(f"no frames were written to {self.path}")
                if self.audio_from is not None:
                    duration = float(self.frame_count / self.fps)
                    mux_audio(self._encoded, self.audio_from, self._muxed, duration, self.audio_start)
        except BaseException:
            stack.__exit__(*sys.exc_info())  # removes the temp files; the error goes on
            raise
        return stack.__exit__(exc_type, exc, tb)  # renames on success, removes on the caller's error


def mux_audio(
    video: Path,
    audio_from: Path,
    output: Path,
    duration: float,
    audio_start: float = 0.0,
    metadata: Optional[dict[str, str]] = None,
    shown: Optional[Path] = None,
) -> None:
    """Write `output`: `video`'s first video stream (copied) and `audio_from`'s first audio track, if it has one.

    The audio starts `audio_start` seconds into `audio_from` (for a result that begins at a later source frame) and
    is cut at `duration`, the video's length; the video itself is never cut, also when the audio ends a little
    early (AAC padding), which `-shortest` would do. From the start, the audio is copied bit for bit when the
    container can hold its codec. From a later point it is re-encoded to AAC, which cuts it exactly: copied, it
    starts at the packet before the cut, which mp4 and mov hide with an edit list and Matroska cannot (an .mkv
    kept the whole source audio and started its video 1.67 s late, issue 24). `metadata` become container tags
    (`comment`, `title`, ...). Errors name `shown` (the file the user asked for) rather than `output`, which may be
    a temporary name.
    """
    inputs = ["-i", str(video), "-ss", f"{audio_start:.6f}", "-i", str(audio_from)]
    tags = [arg for key, value in (metadata or {}).items() for arg in ("-metadata", f"{key}={value}")]
    common = [*inputs, "-map", "0:v:0", "-map", "1:a:0?", "-c:v", "copy", "-t", f"{duration:.6f}", *tags]
    tail = ["-movflags", "+faststart", "-y", str(output)]
    result = None
    if audio_start < MUX_TOLERANCE:
        result = run_ffmpeg("-v", "error", *common, "-c:a", "copy", *tail)
    if result is None or result.returncode != 0:
        result = run_ffmpeg("-v", "error", *common, "-c:a", "aac", *tail)
    if result.returncode != 0:
        reason = last_line(result.stderr)
        shown = shown or output
        if any(cause in reason for cause in WRITE_FAILURES):
            raise InputError(f"cannot write {shown}: {reason}")
        raise InputError(f"cannot add the audio of {audio_from} to {shown}: {reason}")


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], fps: float | Fraction, audio_from: Optional[str | Path] = None
) -> int:
    """Write `frames` to `path` atomically (see VideoWriter); returns the number of frames written."""
    with VideoWriter(path, fps, audio_from=audio_from) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.frame_count
