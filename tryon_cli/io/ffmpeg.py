"""The ffmpeg that imageio-ffmpeg bundles (works offline; there is no ffprobe), and running it for its log."""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache

import imageio_ffmpeg


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (or $IMAGEIO_FFMPEG_EXE when the user points elsewhere)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str) -> subprocess.CompletedProcess:
    """Run `ffmpeg -hide_banner -nostdin ARGS`; stdout and stderr come back as text, the exit code unchecked."""
    return subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )


_CONTEXT = re.compile(r"^(\[[^\]]*\]\s*)+")
"""ffmpeg's log prefix naming the component and its address in memory (`[out#0/mp4 @ 0x55d0c2a4bfc0] `): nothing a
user can act on."""


def last_line(log: str) -> str:
    """The last non-empty line of an ffmpeg log, where ffmpeg states why it stopped, without its log prefix."""
    lines = [_CONTEXT.sub("", line.strip()) for line in log.splitlines() if line.strip()]
    return lines[-1] if lines and lines[-1] else "no message from ffmpeg"
