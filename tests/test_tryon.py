"""`run_tryon` with the DPIDM engine and `dpidm tryon` end to end on real sample videos, tiny (untrained) model.

Runs are kept small (a few frames, 64x48 model input, 1-2 DDIM steps) so the file runs in well under 3 minutes on
two CPU cores; the real work per frame (pose, mask, crop, encode, denoise, decode, paste-back, mux) is the same.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.engines.dpidm import DPIDMEngine
from tryon_cli.engines.dpidm_sampling import DPIDMSampling
from tryon_cli.io import probe_video, read_frames
from tryon_cli.io.ffmpeg import run_ffmpeg
from tryon_cli.models.dpidm import DPIDM
from tryon_cli.pipelines.dpidm_pipeline import VideoConditions
from tryon_cli.pipelines.sliding_window import window_schedule
from tryon_cli.tryon.application import run_tryon
from tryon_cli.tryon.settings import TryOnSettings
from tryon_cli.tryon.writing import FEATHER_FRACTION

SMALL = TryOnSettings(height=64, width=48)
SAMPLING = DPIDMSampling(steps=2, window=6, overlap=2)
CLIP_FRAMES = 10
# `dpidm tryon` with the tiny model at its smallest and fastest (one step, 64x48).
TINY_CLI = ["--model", "tiny", "--steps", "1", "--height", "64", "--width", "48"]


@pytest.fixture(scope="module", autouse=True)
def pose_cache(tmp_path_factory):
    """One pose cache for the module (each video is posed once), outside the user's home."""
    folder = tmp_path_factory.mktemp("pose-cache")
    old = os.environ.get("DPIDM_CACHE")
    os.environ["DPIDM_CACHE"] = str(folder)
    yield folder
    if old is None:
        del os.environ["DPIDM_CACHE"]
    else:
        os.environ["DPIDM_CACHE"] = old


@pytest.fixture(scope="module")
def person(shared_data) -> Path:
    return shared_data / "vivid/videos/upper1.mp4"


@pytest.fixture(scope="module")
def garment(shared_data) -> Path:
    return shared_data / "vivid/cloth/00057_00.jpg"


@pytest.fixture(scope="module")
def clip(person, tmp_path_factory) -> Path:
    """The first frames of the ViViD clip with a 440 Hz tone added as its audio track."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    result = run_ffmpeg(
        "-v",
        "error",
        "-i",
        str(person),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=5",
        "-frames:v",
        str(CLIP_FRAMES),
        "-c:v",
        "libx264",
        "-crf",
        "10",
        "-c:a",
        "aac",
        "-shortest",
        "-y",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def model():
    return DPIDM.from_config("tiny", seed=0)


def tryon(model, clip, garment, out, settings=SMALL, **sampling):
    """One run of the tiny DPIDM engine with SAMPLING changed by `sampling`."""
    engine = DPIDMEngine(model, sampling=replace(SAMPLING, **sampling), untrained=True, description="tiny DPIDM")
    return run_tryon(engine, clip, garment, out, settings)


@pytest.fixture(scope="module")
def first_run(model, clip, garment, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out.mp4"
    calls = []
    hook = model.garment_unet.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        result = tryon(model, clip, garment, out, replace(SMALL, keep_intermediates=True, preview=True))
    finally:
        hook.remove()
    result.garment_unet_calls = len(calls)
    return result


def frames_of(path: Path) -> np.ndarray:
    return np.stack(list(read_frames(path))).astype(np.int16)


def comment_of(path: Path) -> dict:
    log = run_ffmpeg("-i", str(path)).stderr
    return json.loads(re.search(r"^\s*comment\s*:\s*(\{.*\})\s*$", log, re.MULTILINE)[1])


def outside(mask: np.ndarray, margin: int) -> np.ndarray:
    """Pixels farther than `margin` from the (T, H, W) mask."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return ~np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in mask])


def paste_margin(width: int, height: int) -> int:
    # The alpha reaches 2 * feather pixels beyond the mask; a few more for the codec's blocks around the edge.
    return 2 * max(1, round(FEATHER_FRACTION * min(width, height))) + 4


def test_output_keeps_frames_fps_size_audio_and_the_background(first_run, clip):
    source, result = probe_video(clip), probe_video(first_run.video)
    assert (result.frame_count, result.width, result.height) == (CLIP_FRAMES, source.width, source.height)
    assert result.fps == pytest.approx(source.fps, abs=1e-6)
    assert source.has_audio and result.has_audio
    mask = frames_of(first_run.intermediates / "mask.mp4")[..., 0] > 127
    assert mask.shape == (CLIP_FRAMES, source.height, source.width) and mask.mean() > 0.02
    before, after = frames_of(clip), frames_of(first_run.video)
    keep = outside(mask, paste_margin(source.width, source.height))
    assert np.abs(after - before)[keep].mean() < 2.0  # codec error only: < 2/255
    assert np.abs(after - before)[mask].mean() > 10  # and the mask was repainted
    assert comment_of(first_run.video)["untrained"] is True


def test_garment_branch_runs_once_per_video(first_run):
    # 10 frames in 2 windows x 2 steps with guidance: the garment U-Net still ran once (conditional and dropped
    # garment as one batch), its feature bank reused by every window and step.
    assert first_run.garment_unet_calls == 1


def test_every_step_denoises_every_window_before_the_next_step(model):
    frames, windows = 11, window_schedule(11, 6, 2)
    h, w = 8, 6
    conditions = VideoConditions(
        torch.zeros(1, 4, frames, h, w),
        torch.ones(1, 1, frames, h, w, dtype=torch.bool),
        lambda window: torch.zeros(1, 3, window.stop - window.start, 8 * h, 8 * w),
    )
    pipe = DPIDMEngine(model).pipeline
    garment = pipe.encode_garment(torch.zeros(1, 3, 8 * h, 8 * w), torch.zeros(1, 3, 8 * h, 8 * w), guided=False)
    seen = []
    hook = model.main_unet.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append((int(args[1]), args[0].shape[2])), with_kwargs=True
    )
    try:
        pipe(conditions, garment, steps=3, guidance=1.0, seed=0, windows=windows)
    finally:
        hook.remove()
    timesteps = sorted({t for t, _ in seen}, reverse=True)
    assert len(timesteps) == 3
    assert seen == [(t, 6) for t in timesteps for _ in windows]  # steps outer, windows inner


def test_preview_and_intermediates(first_run):
    preview = probe_video(first_run.preview)
    assert (preview.frame_count, preview.height, preview.width) == (CLIP_FRAMES, 64, 3 * 48)
    for name, size in (("pose", (48, 64)), ("agnostic", (48, 64))):
        meta = probe_video(first_run.intermediates / f"{name}.mp4")
        assert (meta.frame_count, meta.width, meta.height) == (CLIP_FRAMES, *size)


def test_same_seed_same_output_other_seed_other_output(model, clip, garment, first_run, tmp_path):
    again = tryon(model, clip, garment, tmp_path / "again.mp4", seed=0)
    other = tryon(model, clip, garment, tmp_path / "other.mp4", seed=1)
    reference = frames_of(first_run.video)
    assert np.array_equal(frames_of(again.video), reference)
    assert np.abs(frames_of(other.video) - reference).mean() > 0.5


def _trained_looking(temporal: bool) -> DPIDM:
    """The tiny model with every DPIDM module random (as after training: the pose read through PASA and PATA's
    adapters), except, unless `temporal`, the output projections of TSA and PATA's attention, left at zero: frames
    then do not interact (each frame's noise depends on its own latents, pose and mask only)."""
    model = DPIDM.from_config("tiny", seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in model.checkpoint_parameters():
                interacts = (".tsa.attn.to_out." in name or ".pata.attn.to_out." in name) and not temporal
                p.copy_(torch.zeros_like(p) if interacts else 0.2 * torch.randn(p.shape, generator=generator))
    return model


@pytest.mark.slow
def test_sliding_windows_equal_one_window_when_frames_do_not_interact(clip, garment, tmp_path):
    """4 windows of 4 frames (overlap 2) against one window of the 10: a different path (4 U-Net calls per step,
    each frame's noise averaged over 2 windows, pose maps, masks and latents cut per window). When frames do not
    interact the two must agree; when they do (TSA and PATA at work) they must not, or the test proves nothing."""
    assert len(window_schedule(CLIP_FRAMES, 4, 2)) == 4
    for temporal in (False, True):
        model = _trained_looking(temporal)
        whole = tryon(model, clip, garment, tmp_path / f"whole{temporal}.mp4", guidance=1.0, window=None)
        windowed = tryon(model, clip, garment, tmp_path / f"w{temporal}.mp4", guidance=1.0, window=4, overlap=2)
        diff = np.abs(frames_of(windowed.video) - frames_of(whole.video))
        if temporal:
            assert diff.mean() > 0.5
        else:
            assert diff.max() <= 1  # float rounding of batches of 4 vs 10 frames, through the codec


def test_user_mask_is_honoured(model, clip, garment, tmp_path):
    meta = probe_video(clip)
    box = (slice(300, 500), slice(150, 400))  # a block over the torso; rows, columns
    frame = np.zeros((meta.height, meta.width, 3), np.uint8)
    frame[box] = 255
    mask_video = tmp_path / "mask.mp4"
    from tryon_cli.io import write_video

    write_video(mask_video, [frame] * CLIP_FRAMES, meta.fps)
    result = tryon(model, clip, garment, tmp_path / "masked.mp4", replace(SMALL, mask=mask_video))
    mask = np.zeros((CLIP_FRAMES, meta.height, meta.width), bool)
    mask[:, box[0], box[1]] = True
    diff = np.abs(frames_of(result.video) - frames_of(clip))
    assert diff[outside(mask, paste_margin(meta.width, meta.height))].mean() < 2.0
    assert diff[mask].mean() > 10


def test_cli_frames_range_gives_that_many_frames(person, garment, tmp_path):
    out = tmp_path / "range.mp4"
    result = CliRunner().invoke(
        app,
        ["tryon", str(person), str(garment), "-o", str(out), "--frames", "10:30", *TINY_CLI],
    )
    assert result.exit_code == 0, result.output
    assert "UNTRAINED" in result.output
    meta = probe_video(out)
    assert (meta.frame_count, meta.fps) == (20, 24.0)
    assert comment_of(out)["model"].startswith("tiny DPIDM, UNTRAINED")


def test_without_a_checkpoint_one_line_says_what_is_missing(person, garment, tmp_path, weights_root):
    result = CliRunner().invoke(
        app, ["tryon", str(person), str(garment), "-o", str(tmp_path / "x.mp4"), "--model", "sd15"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no trained DPIDM checkpoint")
    assert "dpidm train" in lines[0] and "--checkpoint" in lines[0] and "--model tiny" in lines[0]
    assert not (tmp_path / "x.mp4").exists()


def test_killed_batch_resumes_without_redoing_pairs_or_leaving_partial_files(clip, shared_data, tmp_path):
    # Three upper garments (a trouser photo as an upper garment is refused since garment photos are checked).
    examples = Path(__file__).resolve().parents[1] / "examples"
    cloths = [*sorted((shared_data / "vivid/cloth").glob("*_00.jpg")), examples / "garment_upper_00057_00.jpg"]
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"{clip} {cloth}\n" for cloth in cloths))
    out_dir = tmp_path / "out"
    options = ["--frames", "0:4", "--guidance", "1", *TINY_CLI]
    command = [
        sys.executable,
        "-c",
        "from tryon_cli.cli.main import run; run()",
        "tryon",
        "--pairs",
        str(pairs),
        "-o",
        str(out_dir),
        *options,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
    first = out_dir / f"clip__{cloths[0].stem}.mp4"
    deadline = time.monotonic() + 120
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists(), process.communicate()[0].decode()[-2000:]
    process.send_signal(signal.SIGTERM)  # stopped in the middle of the second pair, as a job scheduler would
    process.wait(timeout=60)
    finished = sorted(out_dir.glob("*.mp4"))
    assert sorted(p.name for p in out_dir.iterdir()) == [p.name for p in finished]  # nothing half-written
    assert len(finished) < 3
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    for path in finished:
        assert probe_video(path).frame_count == 4  # complete files only

    result = CliRunner().invoke(app, ["tryon", "--pairs", str(pairs), "-o", str(out_dir), *options])
    assert result.exit_code == 0, result.output
    assert f"{len(finished)} pair(s) already done, {3 - len(finished)} to do" in result.output
    assert {p: p.stat().st_mtime_ns for p in finished} == stamps
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"clip__{c.stem}.mp4" for c in cloths)
