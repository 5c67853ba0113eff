"""Issue 24, item 4: a result that begins at a later source frame (`--frames 40:`) starts its video and its audio
together in every container the CLI writes. Copied from a cut, the audio started at the packet before it: mp4 and
mov hide that with an edit list, Matroska cannot, and an .mkv started its video 1.67 s late with the whole source
audio before it. Read back with the project's own stream reader (`io.video.stream_starts`)."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_cli.io import write_video
from tryon_cli.io.ffmpeg import run_ffmpeg
from tryon_cli.io.outputs import VIDEO_SUFFIXES
from tryon_cli.io.video import probe_video, stream_starts
from tryon_cli.io.writer import mux_audio

FPS, SOURCE_FRAMES, START = 24, 96, 40
AAC_PRIMING = 0.05  # seconds: the encoder's priming samples put the first audio packet a few ms before zero


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """4 s of video with 4 s of AAC audio, and a 56-frame result of its frames 40 on (as the encoder writes it)."""
    root = tmp_path_factory.mktemp("containers")
    result = run_ffmpeg(
        *("-v", "error", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate={FPS}:duration={SOURCE_FRAMES / FPS}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:duration={SOURCE_FRAMES / FPS}"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-y", str(root / "source.mp4")),
    )
    assert result.returncode == 0, result.stderr
    frames = SOURCE_FRAMES - START
    write_video(root / "result.mp4", [np.full((48, 64, 3), 8 * (t % 30), np.uint8) for t in range(frames)], FPS)
    return root, frames


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_video_and_audio_start_together_in_every_container(source, suffix):
    root, frames = source
    output = root / f"out{suffix}"
    mux_audio(root / "result.mp4", root / "source.mp4", output, frames / FPS, START / FPS)
    starts = stream_starts(output)
    assert abs(starts["video"]) < 1e-3, starts
    assert starts["audio"] is not None and abs(starts["audio"] - starts["video"]) < AAC_PRIMING, starts
    meta = probe_video(output)
    assert meta.frame_count == frames and meta.has_audio


def test_the_source_audio_is_copied_when_the_result_starts_with_it(source):
    """From frame 0, the audio is the source's own packets (no second lossy encoding)."""
    root, frames = source
    output = root / "from_start.mkv"
    mux_audio(root / "result.mp4", root / "source.mp4", output, frames / FPS, 0.0)
    packets = run_ffmpeg("-i", str(output), "-map", "0:a:0", "-c", "copy", "-f", "framecrc", "-").stdout
    original = run_ffmpeg("-i", str(root / "source.mp4"), "-map", "0:a:0", "-c", "copy", "-f", "framecrc", "-").stdout

    def checksums(log):
        return [line.split(",")[5].strip() for line in log.splitlines() if line and not line.startswith("#")]

    copied = checksums(packets)
    assert copied and copied == checksums(original)[: len(copied)]
