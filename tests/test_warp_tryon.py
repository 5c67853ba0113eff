"""`dpidm tryon` with the warp engine, end to end through the CLI on the shipped example and the shared clips:
frames, fps and size kept, the garment's colour on the torso, the background untouched, less flicker than a
published video try-on model's outputs, the default engine without a checkpoint, and the preview."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.warp_error_reference import CASES as REFERENCE_CASES
from benchmarks.warp_error_reference import FRAMES as REFERENCE_FRAMES
from tests.test_tryon import comment_of, frames_of, outside, paste_margin
from tests.test_warp_engine import TORSO, dominant_lab, garment_alpha, lab, main_colours
from tryon_cli.cli.main import app
from tryon_cli.io import probe_video, read_frames, read_image
from tryon_cli.metrics.warp_error import warp_error
from tryon_cli.preprocess.human_pose import video_poses
from tryon_cli.preprocess.keypoints import BODY_INDEX as J
from tryon_cli.preprocess.masks import agnostic_masks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GARMENTS = ("garment_upper_00057_00.jpg", "garment_upper_00126_00.jpg")


def tryon(tmp_path: Path, video: Path, garment: Path, *options: str) -> tuple[Path, str]:
    out = tmp_path / f"{video.stem}-{garment.stem}.mp4"
    result = CliRunner().invoke(app, ["tryon", str(video), str(garment), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module", params=GARMENTS)
def example_run(request, tmp_path_factory, weights_root_module):
    """The quick start: no --model, no checkpoint (an empty weights root), with --preview."""
    garment = EXAMPLES / request.param
    out, log = tryon(tmp_path_factory.mktemp("warp"), EXAMPLES / "person.mp4", garment, "--preview")
    return garment, out, log


@pytest.fixture(scope="module")
def weights_root_module(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DPIDM_WEIGHTS", str(root))
        yield root


def test_default_without_a_checkpoint_is_the_warp_engine_with_a_note(example_run):
    _, out, log = example_run
    text = " ".join(log.split())  # the console wraps long lines
    assert text.count("warp engine") == 1 and "note: no trained DPIDM checkpoint" in text
    comment = comment_of(out)
    assert comment["engine"] == "warp" and comment["paper_model"] is False


def test_frames_fps_size_and_preview_are_kept(example_run):
    _, out, _ = example_run
    source, result = probe_video(EXAMPLES / "person.mp4"), probe_video(out)
    assert (result.frame_count, result.fps, result.width, result.height) == (
        source.frame_count,
        source.fps,
        source.width,
        source.height,
    )
    preview = probe_video(out.with_name(out.stem + ".preview.mp4"))
    assert preview.frame_count == source.frame_count


def test_the_torso_wears_the_garment_and_the_rest_is_untouched(example_run):
    garment, out, _ = example_run
    video = EXAMPLES / "person.mp4"
    poses = video_poses(video)
    # The masks the try-on makes (with the frames: the white skirt the tee is tucked into is not its region).
    masks = np.stack(list(agnostic_masks(poses, "upper", frames=read_frames(video))))
    source, output = frames_of(video), frames_of(out)
    meta = probe_video(video)
    away = outside(masks, paste_margin(meta.width, meta.height))
    assert np.abs(output - source)[away].mean() <= 3.0
    photo = read_image(garment)
    # The torso region's dominant colour is one of the garment's main colours: on a side view the shrunk torso
    # of the red-and-navy tee is half yoke, half body (45% red, 48% navy at frame 8).
    want = main_colours(photo[garment_alpha(photo) > 0.99])
    for t in range(0, len(output), 8):
        points = poses.body[t, [J[n] for n in TORSO], :2]
        centre = points.mean(axis=0)
        inside = np.zeros(masks[t].shape, np.uint8)
        cv2.fillConvexPoly(inside, np.round(centre + (points - centre) * 0.7).astype(np.int32), 1)
        got = dominant_lab(output[t][(inside > 0) & masks[t]].astype(np.uint8))
        assert np.linalg.norm(want - got, axis=1).min() <= 12, (t, got, want)


def test_following_the_source_motion_lowers_the_warping_error(example_run, tmp_path, monkeypatch):
    """The part maps and their residual fields carried along the source's flow (motion.MotionTracker,
    fields.ResidualFields) against the keypoint fit alone (PULL = 1: each frame's map is that frame's fit; FADE = 1:
    no residual), same garment and video."""
    from tryon_cli.engines.warp import fields, motion

    garment, out, _ = example_run
    if garment.name != GARMENTS[0]:
        pytest.skip("one garment is enough")
    monkeypatch.setattr(motion, "PULL", 1.0)
    monkeypatch.setattr(fields, "FADE", 1.0)
    fitted, _ = tryon(tmp_path, EXAMPLES / "person.mp4", garment, "--model", "warp")
    source = EXAMPLES / "person.mp4"
    tracked = warp_error(read_frames(out), read_frames(source)).ratio
    untracked = warp_error(read_frames(fitted), read_frames(source)).ratio
    assert tracked < 0.8 * untracked, (tracked, untracked)


@pytest.mark.slow
@pytest.mark.parametrize("clip, garment, prediction", REFERENCE_CASES, ids=("dress-clip", "model_1-a", "model_1-b"))
def test_less_flicker_than_3dvtons_published_outputs(shared_data, tmp_path, clip, garment, prediction):
    """On each clip 3DV-TON (a diffusion video try-on model) published outputs for, the warp engine's warping error
    (ratio to the source's own, the same 32 frames and the same flow) is below that of 3DV-TON's output:
    `benchmarks/warp_error_reference.py` measures the same. (The issue's stricter goal, at most 2x the source's
    on every clip, is not met: docs/warp_engine.md, Known limits.)"""
    data = shared_data / "3dvton"
    video = data / "videos" / clip
    out, _ = tryon(
        tmp_path,
        video,
        data / "cloths" / garment,
        "--model",
        "warp",
        "--category",
        "dress",
        "--frames",
        f"0:{REFERENCE_FRAMES}",
    )
    ours = warp_error(read_frames(out), read_frames(video, 0, REFERENCE_FRAMES))
    theirs = warp_error(read_frames(data / "outputs" / "pred" / prediction), read_frames(video, 0, REFERENCE_FRAMES))
    assert ours.pairs == theirs.pairs == REFERENCE_FRAMES - 1
    assert ours.ratio < theirs.ratio, (ours.ratio, theirs.ratio)


def test_lower_garment_on_the_lower_body_example(tmp_path):
    out, _ = tryon(
        tmp_path,
        EXAMPLES / "person_lower.mp4",
        EXAMPLES / "garment_lower_051985_1.jpg",
        "--model",
        "warp",
        "--category",
        "lower",
    )
    source, result = probe_video(EXAMPLES / "person_lower.mp4"), probe_video(out)
    assert (result.frame_count, result.width, result.height) == (source.frame_count, source.width, source.height)
    poses = video_poses(EXAMPLES / "person_lower.mp4")
    photo = read_image(EXAMPLES / "garment_lower_051985_1.jpg")
    want = dominant_lab(photo[garment_alpha(photo) > 0.99])
    frame = next(iter(read_frames(out)))
    body = poses.body[0]
    # Along each thigh, between hip and knee, the trousers' colour.
    for side in "rl":
        hip, knee = body[J[f"{side}_hip"], :2], body[J[f"{side}_knee"], :2]
        samples = np.array(
            [frame[int(y), int(x)] for x, y in (hip + (knee - hip) * f for f in np.linspace(0.3, 0.8, 12))]
        )
        assert np.median(np.linalg.norm(lab(samples) - want, axis=1)) <= 12
