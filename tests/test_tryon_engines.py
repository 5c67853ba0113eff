"""Choosing the engine (`--model auto|warp|sd15|tiny`), and the CLI giving library errors their flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.engines import build_engine, resolve_model
from tryon_cli.errors import InputError, SettingError

REPO = Path(__file__).resolve().parents[1]
VIDEO, GARMENT = REPO / "examples/person.mp4", REPO / "examples/garment_upper_00057_00.jpg"


def tiny_checkpoint(folder: Path) -> Path:
    """A real (untrained) tiny checkpoint, as `dpidm train --model tiny` writes one."""
    from tryon_cli.models.dpidm import DPIDM

    return DPIDM.from_config("tiny", seed=0).delta.save_checkpoint(folder)


def test_auto_is_warp_without_a_checkpoint_and_dpidm_with_one(weights_root, tmp_path):
    assert resolve_model("auto") == "warp"
    with pytest.raises(InputError, match="does not exist"):  # a checkpoint given must be there
        resolve_model("auto", tmp_path / "given")
    assert resolve_model("auto", tiny_checkpoint(tmp_path / "tiny")) == "tiny"  # its config.json names the base
    tiny_checkpoint(weights_root / "dpidm")  # installed in weights/dpidm/: DPIDM, of the base it records
    assert resolve_model("auto") == "tiny"
    assert resolve_model("tiny") == "tiny"
    with pytest.raises(SettingError, match="model must be one of auto, warp, sd15, tiny"):
        resolve_model("big")


def test_auto_without_a_checkpoint_says_in_one_note_that_it_uses_the_warp_engine(weights_root):
    pytest.importorskip("tryon_cli.engines.warp")
    notes = []
    engine = build_engine("auto", notes=notes.append)
    assert engine.name == "warp" and len(notes) == 1 and "warp" in notes[0] and "dpidm" in notes[0]


def test_library_errors_are_reported_with_their_flags(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out.mp4"
    common = ["tryon", str(VIDEO), str(GARMENT), "-o", str(out), "--model", "tiny", "--device", "cpu"]
    cases = {
        ("--frames", "40:60"): "error: --frames 40:60 is outside the video's 48 frames",
        ("--steps", "0"): "error: --steps must be 1 to 1000 (the scheduler's training timesteps), got 0",
        ("--overlap", "30"): "error: --overlap must be at least 0 and less than the window (24 frames), got 30",
        ("--height", "100"): "error: --height must be a positive multiple of 8 (the VAE's downsampling), got 100",
        ("--dtype", "fp8"): "error: --dtype must be one of fp32, fp16, bf16, got 'fp8'",
    }
    for args, expected in cases.items():
        result = runner.invoke(app, [*common, *args])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines()[-1] == expected
    assert not out.exists()


def test_the_output_never_overwrites_an_input(tmp_path):
    video = tmp_path / "person.mp4"
    video.write_bytes(VIDEO.read_bytes())
    result = CliRunner().invoke(app, ["tryon", str(video), str(GARMENT), "-o", str(video), "--model", "tiny"])
    assert result.exit_code == 2 and "it would be overwritten" in result.output
    assert video.read_bytes() == VIDEO.read_bytes()


def test_weights_reach_the_pose_lookup(monkeypatch, tmp_path):
    # The bug of issue 12: --weights never reached the DWPose lookup of `dpidm tryon`.
    import tryon_cli.preprocess.human_pose as human_pose

    seen = {}

    def video_poses(path, **kwargs):
        seen.update(kwargs)
        raise SettingError("pose", "stopped here by the test")

    monkeypatch.setattr(human_pose, "video_poses", video_poses)
    weights = tmp_path / "my-weights"
    weights.mkdir()
    result = CliRunner().invoke(
        app,
        [
            "tryon",
            str(VIDEO),
            str(GARMENT),
            "-o",
            str(tmp_path / "o.mp4"),
            "--model",
            "tiny",
            "--device",
            "cpu",
            "--weights",
            str(weights),
        ],
    )
    assert "stopped here by the test" in result.output
    assert seen["weights"] == weights
