"""tryon_cli.io: streaming reads with exact metadata, atomic writes, audio copy, image modes, frame folders."""

from __future__ import annotations

import hashlib
import inspect
import subprocess
import tracemalloc
from fractions import Fraction
from itertools import islice
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from tryon_cli.errors import InputError
from tryon_cli.io import (
    VideoWriter,
    atomic_output,
    atomic_outputs,
    check_output,
    open_video,
    read_frame_folder,
    read_frames,
    read_image,
    write_video,
)
from tryon_cli.io.ffmpeg import ffmpeg_exe

FPS = 23.976
T, H, W = 37, 170, 250


def synthetic_clip(frames: int = T, height: int = H, width: int = W) -> list[np.ndarray]:
    """Smooth moving gradients (codec-friendly, so the error bound tests the pipeline, not x264 on noise)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return [
        np.stack([(xx * 255 // width + 3 * t) % 256, yy * 255 // height, np.full_like(xx, 7 * t % 256)], -1).astype(
            np.uint8
        )
        for t in range(frames)
    ]


def ffmpeg(*args: str) -> str:
    """Run the bundled ffmpeg; return its stderr (where `ffmpeg -i` describes the streams)."""
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, text=True).stderr


def mean_abs_error(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b)]))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_video(path, synthetic_clip(), FPS)
    return path


def test_round_trip_keeps_count_rate_size_and_pixels(clip):
    with open_video(clip) as reader:
        back = list(reader)
        meta = reader.meta
    assert (meta.frame_count, len(back)) == (T, T)
    assert meta.fps == pytest.approx(FPS, abs=1e-9)
    assert (meta.width, meta.height, meta.rotation) == (W, H, 0)
    assert back[0].shape == (H, W, 3) and back[0].dtype == np.uint8
    assert meta.duration == pytest.approx(T / FPS)
    assert mean_abs_error(synthetic_clip(), back) < 3


def test_ntsc_rate_is_exact(tmp_path):
    """A rate read as a float (24000/1001) is written back as the same fraction, not a rounded decimal."""
    path = tmp_path / "ntsc.mp4"
    write_video(path, synthetic_clip(4, 32, 32), 24000 / 1001)
    assert Fraction(open_video(path).meta.fps).limit_denominator(10**6) == Fraction(24000, 1001)


def test_odd_size_is_padded_by_repeating_the_edge(tmp_path):
    frames = synthetic_clip(3, 171, 251)
    path = tmp_path / "odd.mp4"
    write_video(path, frames, 24)
    back = list(read_frames(path))
    assert back[0].shape == (172, 252, 3)  # documented policy: pad odd sides by one pixel
    assert mean_abs_error(frames, [f[:171, :251] for f in back]) < 3
    padded_col, last_col = back[1][:171, 251].astype(int), frames[1][:, 250].astype(int)
    assert np.abs(padded_col - last_col).mean() < 4


def test_real_video_metadata_and_streaming(shared_data):
    path = shared_data / "vivid" / "videos" / "upper1.mp4"
    reader = open_video(path)
    meta = reader.meta
    assert (meta.frame_count, meta.fps, meta.width, meta.height) == (48, 24.0, 624, 832)
    assert (meta.rotation, meta.has_audio, meta.codec) == (0, False, "h264")

    frames = iter(reader)
    assert inspect.isgenerator(frames)
    frame_bytes = 832 * 624 * 3
    digests = []
    tracemalloc.start()
    try:
        for frame in frames:
            assert frame.shape == (832, 624, 3)
            digests.append(hashlib.sha1(frame).hexdigest())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(digests) == 48
    # All 48 frames would be 48 * 1.5 MB; streaming holds a few at most.
    assert peak < 6 * frame_bytes, f"peak {peak / frame_bytes:.1f} frames"

    middle = list(read_frames(path, start=10, stop=13))
    assert [hashlib.sha1(f).hexdigest() for f in middle] == digests[10:13]


def test_closing_the_reader_stops_ffmpeg(shared_data):
    psutil = pytest.importorskip("psutil")

    def ffmpeg_children() -> list:
        return [p for p in psutil.Process().children() if "ffmpeg" in p.name()]

    with open_video(shared_data / "vivid" / "videos" / "upper1.mp4") as reader:
        frames = iter(reader)
        assert len(list(islice(frames, 2))) == 2
        assert len(ffmpeg_children()) == 1  # still decoding, two frames in
    assert ffmpeg_children() == []


def test_rotation_from_display_matrix_is_applied(clip, tmp_path):
    rotated = tmp_path / "rotated.mp4"
    # -display_rotation counts counterclockwise; a phone's `rotate=270` tag means the same display.
    ffmpeg("-display_rotation", "90", "-i", str(clip), "-c", "copy", str(rotated))
    meta = open_video(rotated).meta
    assert (meta.width, meta.height, meta.rotation, meta.frame_count) == (H, W, 270, T)
    first = next(read_frames(rotated))
    assert first.shape == (W, H, 3)
    upright = np.rot90(next(read_frames(clip)), k=1)  # counterclockwise by 90
    assert np.abs(first.astype(int) - upright).mean() < 1


def make_video_with_audio(path: Path, video_seconds: float = 1, audio_seconds: float = 2) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=24:duration={video_seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={audio_seconds}",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def audio_seconds(path: Path) -> float:
    """Length of the decoded audio track (8 kHz mono 16-bit samples counted)."""
    pcm = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return len(pcm) / 2 / 8000


def audio_streams(path: Path) -> list[str]:
    return [line for line in ffmpeg("-i", str(path)).splitlines() if "Stream #" in line and "Audio:" in line]


def test_audio_is_copied_from_the_source(tmp_path):
    source = make_video_with_audio(tmp_path / "with_audio.mp4")
    assert audio_streams(source), "the test source should have audio"
    frames = synthetic_clip(12, 48, 64)

    write_video(tmp_path / "kept.mp4", frames, 24, audio_from=source)
    assert [s.split("Audio: ")[1].split()[0] for s in audio_streams(tmp_path / "kept.mp4")] == ["aac"]
    assert open_video(tmp_path / "kept.mp4").meta.frame_count == 12

    write_video(tmp_path / "silent.mp4", frames, 24)
    assert audio_streams(tmp_path / "silent.mp4") == []
    # A source without audio is fine: the result simply has none.
    write_video(tmp_path / "from_silent.mp4", frames, 24, audio_from=tmp_path / "silent.mp4")
    assert audio_streams(tmp_path / "from_silent.mp4") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["from_silent.mp4", "kept.mp4", "silent.mp4", "with_audio.mp4"]


def test_audio_shorter_than_the_video_keeps_every_frame(tmp_path):
    source = make_video_with_audio(tmp_path / "short_audio.mp4", video_seconds=1, audio_seconds=0.5)
    write_video(tmp_path / "out.mp4", synthetic_clip(24, 48, 64), 24, audio_from=source)
    assert open_video(tmp_path / "out.mp4").meta.frame_count == 24
    assert audio_seconds(tmp_path / "out.mp4") == pytest.approx(0.5, abs=0.06)


def test_audio_starts_at_the_requested_second_and_ends_with_the_video(tmp_path):
    source = make_video_with_audio(tmp_path / "src.mp4", video_seconds=2, audio_seconds=2)
    frames = synthetic_clip(12, 48, 64)  # 0.5 s at 24 fps
    with VideoWriter(tmp_path / "tail.mp4", 24, audio_from=source, audio_start=1.75) as writer:
        for frame in frames:
            writer.write(frame)
    assert audio_seconds(tmp_path / "tail.mp4") == pytest.approx(0.25, abs=0.06)  # only 0.25 s of audio is left
    write_video(tmp_path / "cut.mp4", frames, 24, audio_from=source)
    assert audio_seconds(tmp_path / "cut.mp4") == pytest.approx(0.5, abs=0.06)  # cut at the video's end


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("with_audio", [False, True])
def test_interrupted_write_leaves_nothing(tmp_path, error, with_audio):
    source = make_video_with_audio(tmp_path.parent / f"{tmp_path.name}_src.mp4") if with_audio else None
    target = tmp_path / "out.mp4"
    with pytest.raises(error):
        with VideoWriter(target, 24, audio_from=source) as writer:
            for index, frame in enumerate(synthetic_clip(10, 48, 64)):
                if index == 5:
                    raise error("stop")
                writer.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_an_existing_target(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous result")
    with pytest.raises(ValueError, match="frames must be uint8"):
        write_video(target, [np.zeros((8, 8, 3), np.float32)], 24)
    assert target.read_bytes() == b"previous result"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_output_for_any_file(tmp_path):
    target = tmp_path / "sub" / "result.json"
    with atomic_output(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".json" and not temp.exists()
        temp.write_text("{}")
        assert not target.exists()
    assert target.read_text() == "{}"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as temp:
            temp.write_text("partial")
            raise KeyboardInterrupt
    assert target.read_text() == "{}"
    assert list(target.parent.iterdir()) == [target]


def test_truncated_faststart_video_is_an_input_error(shared_data, tmp_path):
    """With the index first, a cut file still opens; the missing tail must not pass as a shorter video."""
    faststart = tmp_path / "faststart.mp4"
    ffmpeg("-i", str(shared_data / "vivid" / "videos" / "upper1.mp4"), "-c", "copy", "-movflags", "+faststart",
           str(faststart))  # fmt: skip
    cut = tmp_path / "cut.mp4"
    data = faststart.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.mp4 ends early"):
        open_video(cut)


def test_video_without_video_stream(tmp_path):
    audio_only = tmp_path / "sine.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.2", "-c:a", "aac", str(audio_only))
    with pytest.raises(InputError, match="no video stream in .*sine.m4a"):
        open_video(audio_only)


# ---------------------------------------------------------------- images


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # stored landscape: red left half, blue right half
    pixels[:, :20, 0] = 255
    pixels[:, 20:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "phone.jpg")
    assert image.shape == (40, 20, 3)
    assert image[5, 10, 0] > 200 and image[5, 10, 2] < 50  # the left (red) half is now on top
    assert image[35, 10, 2] > 200 and image[35, 10, 0] < 50


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:2, :, 3] = 255  # opaque red top, transparent bottom, half-transparent corner
    rgba[3, 3, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.dtype == np.uint8 and image.shape == (4, 4, 3)
    assert image[0, 0].tolist() == [255, 0, 0]
    assert image[2, 0].tolist() == [255, 255, 255]
    assert image[3, 3].tolist() == [255, 127, 127] or image[3, 3].tolist() == [255, 128, 128]


def test_grayscale_palette_and_cmyk(tmp_path):
    gray = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    Image.fromarray(gray, "L").save(tmp_path / "l.png")
    assert np.array_equal(read_image(tmp_path / "l.png"), np.repeat(gray[..., None], 3, axis=2))

    palette = Image.new("P", (3, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.putdata([0, 1, 2])
    palette.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png")[0].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]

    palette.save(tmp_path / "pt.png", transparency=1)  # index 1 transparent -> white
    assert read_image(tmp_path / "pt.png")[0].tolist() == [[255, 0, 0], [255, 255, 255], [0, 0, 255]]

    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(tmp_path / "c.jpg", quality=100)
    image = read_image(tmp_path / "c.jpg")
    assert image.shape == (2, 2, 3)
    assert image[0, 0, 0] > 240 and image[0, 0, 1] < 15 and image[0, 0, 2] < 15


def test_sixteen_bit_grayscale_keeps_its_range(tmp_path):
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(tmp_path / "g16.png")
    assert read_image(tmp_path / "g16.png")[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_bad_image_is_an_input_error(tmp_path, content):
    path = tmp_path / "garment.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match="garment.jpg"):
        read_image(path)


def test_frame_folder_is_read_in_numeric_order(tmp_path):
    for index in (10, 2, 1, 0):
        Image.fromarray(np.full((2, 2), index * 20, np.uint8)).save(tmp_path / f"{index}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    frames = read_frame_folder(tmp_path)
    assert inspect.isgenerator(frames)
    assert [int(f[0, 0, 0]) for f in frames] == [0, 20, 40, 200]


def test_frame_folder_errors(tmp_path):
    with pytest.raises(InputError, match="frame folder not found"):
        read_frame_folder(tmp_path / "missing")
    with pytest.raises(InputError, match="no image files"):
        read_frame_folder(tmp_path)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_folder_leaves_nothing_and_a_finished_one_replaces_the_old(tmp_path, error):
    target = tmp_path / "out_intermediates"
    with pytest.raises(error):
        with atomic_outputs() as group:
            write_video(group.folder(target) / "pose.mp4", synthetic_clip(2, 8, 8), 24)
            raise error("stopped")
    assert list(tmp_path.iterdir()) == []
    for name in ("old.mp4", "new.mp4"):
        with atomic_outputs() as group:
            write_video(group.folder(target) / name, synthetic_clip(2, 8, 8), 24)
    assert [p.name for p in tmp_path.iterdir()] == ["out_intermediates"]
    assert [p.name for p in target.iterdir()] == ["new.mp4"]


def test_output_that_is_a_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        write_video(tmp_path, synthetic_clip(2, 8, 8), 24)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- output checks (issue 14: no input overwritten)


def test_output_may_not_be_an_input_by_name_symlink_or_hard_link(clip, tmp_path):
    (tmp_path / "link.mp4").symlink_to(clip)
    (tmp_path / "hard.mp4").hardlink_to(clip) if clip.stat().st_dev == tmp_path.stat().st_dev else None
    dotted = clip.parent / "." / clip.name
    for output in [
        clip,
        dotted,
        tmp_path / "link.mp4",
        *([tmp_path / "hard.mp4"] if (tmp_path / "hard.mp4").exists() else []),
    ]:
        with pytest.raises(InputError, match="is the input .* would be overwritten"):
            check_output(output, [None, clip])
    # The input given through the link, the output by its real name: the same file too.
    with pytest.raises(InputError, match="would be overwritten"):
        check_output(clip, [tmp_path / "link.mp4"])
    assert check_output(tmp_path / "new.mp4", [clip]) == tmp_path / "new.mp4"


@pytest.mark.parametrize(
    "name, message",
    [
        ("existing_folder", "is a folder; give a file name"),
        ("trailing/", "is a folder; give a file name"),
        ("out", "has no suffix; a video output needs one of .mp4"),
        ("out.avi", "has the suffix .avi"),
        ("a_file.mp4/x.mp4", "is a file, not a folder"),
        ("/proc/a.mp4", "does not accept new files"),
    ],
)
def test_bad_video_output_paths_are_refused(tmp_path, name, message):
    (tmp_path / "existing_folder").mkdir()
    (tmp_path / "a_file.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match=message):
        check_output(name if name.startswith("/") else f"{tmp_path}/{name}", kind="video")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file.mp4", "existing_folder"]  # nothing made


def test_folder_outputs(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is an existing file; give a folder"):
        check_output(tmp_path / "file", kind="folder")
    with pytest.raises(InputError, match="does not accept new files"):
        check_output("/proc/poses", kind="folder")
    assert check_output(tmp_path / "new" / "deeper", kind="folder") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created


# ---------------------------------------------------------------- variable frame rate (issue 14)


def make_vfr_clip(path: Path) -> Path:
    """A phone-like clip: 16 frames at 12.5 fps then 16 at 25 fps (32 frames over 1.92 s), with 1.92 s of audio."""
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:duration=1.92",
        "-frames:v", "32", "-vf", "setpts='if(lt(N,16),N*0.08,1.28+(N-16)*0.04)/TB'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-t", "1.92", str(path),
    )  # fmt: skip
    return path


def test_variable_frame_rate_is_resampled_to_its_mean_rate_and_keeps_its_length(tmp_path):
    meta = open_video(make_vfr_clip(tmp_path / "phone.mp4")).meta
    assert meta.variable_frame_rate and meta.fps == pytest.approx(32 / 1.92)
    assert meta.frame_count == 32 and meta.duration == pytest.approx(1.92, abs=1e-6)
    assert "variable frame rate (12.5 to 25 fps)" in meta.notes[0]
    frames = list(open_video(meta.path))
    assert len(frames) == meta.frame_count
    # Each frame is a source frame, in time order: repeated in the slow part (16 frames over 1.28 s), thinned in
    # the fast one (16 over 0.64 s).
    decoder = imageio_ffmpeg.read_frames(str(meta.path), output_params=["-fps_mode", "passthrough"])
    next(decoder)
    source = [np.frombuffer(raw, np.uint8).reshape(48, 64, 3) for raw in decoder]
    assert len(source) == 32
    picked = [next(j for j, s in enumerate(source) if np.array_equal(s, f)) for f in frames]
    assert picked[0] == 0 and picked[-1] >= 30 and picked == sorted(picked)
    assert len(set(picked[:21])) == 16 and len(set(picked[21:])) == len(picked[21:]) == 11  # 5 of 16 dropped
    write_video(tmp_path / "out.mp4", frames, meta.fps, audio_from=meta.path)
    out = open_video(tmp_path / "out.mp4").meta
    assert not out.variable_frame_rate and out.frame_count == 32
    assert out.duration == pytest.approx(1.92, abs=1e-6)
    assert audio_seconds(tmp_path / "out.mp4") == pytest.approx(1.92, abs=0.03)  # the audio is not cut


def test_constant_rate_with_coarse_timestamps_is_not_variable(tmp_path):
    """29.97 fps in a 1/1000 time base: intervals of 33 and 34 ms are a constant rate, read without resampling."""
    path = tmp_path / "coarse.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=30000/1001:duration=1", "-c:v", "libx264", str(path))
    meta = open_video(path).meta
    assert not meta.variable_frame_rate and meta.decode_filter == "" and meta.frame_count == 30


# ---------------------------------------------------------------- shipped examples

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_examples_read_and_are_attributed():
    """The shipped examples open through the same readers users' files take, and NOTICE names each of them."""
    notice = (EXAMPLES / "NOTICE").read_text()
    media = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".mp4", ".jpg"))
    assert [p.name for p in media if p.name not in notice] == []
    assert "Apache" in notice and (EXAMPLES / "LICENSE-ViViD.txt").is_file()
    assert sum(p.stat().st_size for p in EXAMPLES.iterdir()) < 600_000
    meta = open_video(EXAMPLES / "person.mp4").meta
    assert (meta.frame_count, meta.fps, meta.width, meta.height) == (48, 24.0, 624, 832)
    for garment in EXAMPLES.glob("garment_*.jpg"):
        assert read_image(garment).shape == (1024, 768, 3)
