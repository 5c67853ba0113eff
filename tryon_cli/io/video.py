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
from functools import lru_cache
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
def _decode_args(video_filter: str = "") -> list[str]:
    return [
        "-map",
        "0:v:0",
        *(["-vf", video_filter] if video_filter else []),
        "-fps_mode",
        "passthrough",
        "-an",
        "-sn",
        "-dn",
    ]


PACKET_DISCARD = 0x4
"""ffmpeg's AV_PKT_FLAG_DISCARD, shown in framecrc's `F=` field: a packet an edit list cuts away."""

VFR_TOLERANCE = 0.1
"""Frame intervals within this fraction of the median interval count as a constant rate (timestamps rounded to a
coarse time base, e.g. 33 and 34 ms at 29.97 fps in a 1/1000 base, are still constant)."""


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
    variable_frame_rate: bool = False
    """The source's frames are not evenly spaced in time; the reader then resamples them (`decode_filter`)."""
    decode_filter: str = ""
    """The ffmpeg filter the reader decodes through (`fps=N/D` for a variable-rate source, else none)."""
    notes: tuple[str, ...] = ()
    """One-line remarks for the user (the resampling of a variable-rate source)."""
    comment: str = ""
    """The container's `comment` tag (dpidm's results carry a JSON object there naming the engine)."""

    @property
    def frame_rate(self) -> Fraction:
        """The frame rate as a fraction, for writers that want it exact."""
        return Fraction(self.fps).limit_denominator(1_000_000)

    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path), "frame_rate": str(self.frame_rate), "notes": list(self.notes)}


def _framecrc(path: Path, video_filter: str) -> tuple[str, str]:
    """Decode the whole first video stream through `video_filter` into framecrc; (stdout, stderr) or InputError."""
    result = run_ffmpeg("-i", str(path), *_decode_args(video_filter), "-f", "framecrc", "-")
    log = result.stderr
    if "matches no streams" in log:
        raise InputError(f"no video stream in {path}")
    if "partial file" in log:
        raise InputError(f"video {path} ends early (truncated or still being written)")
    if result.returncode != 0:
        opening = re.search(r"Error opening input: (.+)", log)
        reason = f"{opening[1].strip()} (not a video, or an incomplete one)" if opening else "ffmpeg cannot decode it"
        raise InputError(f"cannot read video {path}: {reason}")
    return result.stdout, log


def _count_and_rate(path: Path, stdout: str) -> tuple[int, Fraction, tuple[int, int]]:
    header = {m[1]: m[2] for m in re.finditer(r"^#(\w+) 0: (.+)$", stdout, re.MULTILINE)}
    frame_count = sum(1 for line in stdout.splitlines() if line and not line.startswith("#"))
    if frame_count == 0 or "tb" not in header:
        raise InputError(f"video {path} has no decodable frames")
    tb_num, tb_den = (int(v) for v in header["tb"].split("/"))
    width, height = (int(v) for v in header["dimensions"].split("x"))
    return frame_count, Fraction(tb_den, tb_num), (width, height)


def _variable_rate(log: str) -> tuple[Fraction, str] | None:
    """(constant rate to resample to, note) when the `showinfo` timestamps in `log` are unevenly spaced, else None.

    The rate is frames / duration, so the resampled video keeps the source's length (and its audio fits) and about
    its number of frames; each output frame is the source frame on screen at that moment.
    """
    times = np.array([float(t) for t in re.findall(r"pts_time:\s*(-?[\d.]+)", log)])
    if len(times) < 3:
        return None
    intervals = np.diff(times)
    median = float(np.median(intervals))
    if median <= 0 or np.abs(intervals - median).max() <= VFR_TOLERANCE * median:
        return None
    duration = times[-1] - times[0] + intervals[-1]
    rate = Fraction(len(times) / duration).limit_denominator(1001)
    positive = intervals[intervals > 0]
    low, high = 1 / positive.max(), 1 / positive.min()
    note = (
        f"variable frame rate ({low:.3g} to {high:.3g} fps): resampled to a constant {float(rate):.5g} fps over "
        f"its {duration:.3f} s, each frame the source frame shown at that moment"
    )
    return rate, note


def probe_video(path: str | Path) -> VideoMeta:
    """Read a video's metadata; decodes it once (that is what makes the frame count exact), twice when its frame
    rate varies (the second time through the resampling the reader will apply, to count its frames).

    Memoised per file version (path, modification time, size): a command may check its inputs up front and read
    them later without decoding them twice."""
    path = require_file(path, "video")
    stat = path.stat()
    return _probe(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _probe(path: Path, mtime_ns: int, size: int) -> VideoMeta:
    # framecrc writes one line per decoded frame and, in its header, the encoder time base, which ffmpeg sets to
    # 1 / (the stream's frame rate) as an exact fraction; its stderr carries the input's stream description, and
    # showinfo's line per frame the presentation timestamps.
    stdout, log = _framecrc(path, "showinfo=checksum=0")
    frame_count, fps, (width, height) = _count_and_rate(path, stdout)
    variable = _variable_rate(log)
    decode_filter, notes = "", ()
    if variable is not None:
        decode_filter, notes = f"fps={variable[0]}", (f"{path.name}: {variable[1]}",)
        frame_count, fps, _ = _count_and_rate(path, _framecrc(path, decode_filter)[0])

    source = log.split("Stream mapping:")[0]  # the input's description, not the output's
    video_line = re.search(r"Stream #0:\d+.*?: Video: (\w+)", source)
    # ffmpeg prints the display matrix angle counterclockwise; the legacy `rotate` tag counts clockwise.
    angle = re.search(r"rotation of (-?[\d.]+) degrees", source, re.IGNORECASE)
    rotation = round(-float(angle[1])) % 360 if angle else 0
    # The container's tags come before its streams'; ffmpeg indents a tag's name and pads it to a colon (Matroska
    # spells it COMMENT).
    comment = re.search(r"^\s+comment\s*: (.*)$", source.split("Stream #")[0], re.MULTILINE | re.IGNORECASE)
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
        variable_frame_rate=variable is not None,
        decode_filter=decode_filter,
        notes=notes,
        comment=comment[1].strip() if comment else "",
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
        decoder = imageio_ffmpeg.read_frames(str(self.path), output_params=_decode_args(self.meta.decode_filter))
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


def stream_starts(path: str | Path) -> dict[str, float | None]:
    """When the first video stream and the first audio stream begin, in seconds of the container's clock
    (`{"video": t, "audio": t or None}`), read from their packets without decoding. Packets an edit list tells
    players to drop are left out; an audio track that starts a few milliseconds before zero is the AAC encoder's
    priming, which players skip too."""
    path = require_file(path, "video")
    result = run_ffmpeg("-i", str(path), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "framecrc", "-")
    if result.returncode != 0:
        raise InputError(f"cannot read the streams of {path}")
    bases = {
        int(m[1]): Fraction(int(m[2]), int(m[3]))
        for m in re.finditer(r"^#tb (\d+): (\d+)/(\d+)$", result.stdout, re.MULTILINE)
    }
    starts: dict[int, Fraction] = {}
    for line in result.stdout.splitlines():
        flags = re.search(r"F=0x([0-9a-fA-F]+)", line)
        if not line or line.startswith("#") or (flags and int(flags[1], 16) & PACKET_DISCARD):
            continue
        index, _, pts = (int(field) for field in line.split(",")[:3])
        start = pts * bases[index]
        starts[index] = min(starts.get(index, start), start)
    return {"video": float(starts[0]), "audio": float(starts[1]) if 1 in starts else None}
