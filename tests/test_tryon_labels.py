"""Issue 24, item 8: what a run says about itself. A tiny-base checkpoint is labelled a test model (a 20-step smoke
checkpoint paints noise and was labelled `"untrained": false` only); `dpidm info` shows the engine a result's comment
names; --steps and --guidance given to the warp engine are said to be ignored."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.test_bad_inputs import files  # noqa: F401  (fixture)
from tests.test_tryon_engines import REPO, tiny_checkpoint
from tryon_cli.cli import tryon as tryon_command
from tryon_cli.cli.main import app
from tryon_cli.engines import build_engine
from tryon_cli.io import write_video
from tryon_cli.io.outputs import VIDEO_SUFFIXES
from tryon_cli.io.writer import mux_audio

runner = CliRunner()


def test_a_tiny_base_checkpoint_is_a_test_model_and_says_so(tmp_path):
    engine = build_engine("auto", checkpoint=tiny_checkpoint(tmp_path / "tiny"))
    assert not engine.untrained  # it is a checkpoint, not random weights ...
    assert engine.test_model and engine.metadata()["test_model"] is True  # ... but no try-on model
    assert "a test model" in engine.metadata()["model"]
    assert build_engine("tiny").metadata()["test_model"] is True


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_info_shows_the_engine_of_a_result(tmp_path, suffix):
    write_video(tmp_path / "v.mp4", [np.zeros((16, 16, 3), np.uint8)] * 2, 24)
    comment = json.dumps({"generator": "dpidm tryon", "engine": "dpidm", "untrained": False, "test_model": True})
    made = tmp_path / f"made{suffix}"
    mux_audio(tmp_path / "v.mp4", tmp_path / "v.mp4", made, 2 / 24, metadata={"comment": comment})
    shown = " ".join(runner.invoke(app, ["info", str(made)], env={"COLUMNS": "200"}).output.split())
    assert "│ made by │ dpidm tryon │" in shown and "│ engine │ dpidm (a test model: a check, not a try-on) │" in shown
    as_json = json.loads(runner.invoke(app, ["info", str(made), "--json"]).output)
    assert json.loads(as_json["comment"]) == json.loads(comment)


def test_sampling_flags_given_to_the_warp_engine_are_said_to_be_ignored(files, weights_root, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tryon_command, "_run", lambda *args: None)  # the engine is built, nothing is run
    root = files["root"]
    garment = REPO / "examples" / "garment_upper_00057_00.jpg"  # a product photo the garment checks accept
    common = ["tryon", str(root / "person.mp4"), str(garment), "--model", "warp", "-o"]
    said = runner.invoke(
        app, [*common, str(root / "flags.mp4"), "--steps", "5", "--guidance", "2"], env={"COLUMNS": "200"}
    )
    assert said.exit_code == 0, said.output
    assert "note: --steps and --guidance set DPIDM's sampling; the warp engine has none: ignored" in said.output
    quiet = runner.invoke(app, [*common, str(root / "flags.mp4")], env={"COLUMNS": "200"})
    assert quiet.exit_code == 0 and "ignored" not in quiet.output


def test_the_warp_engine_hands_device_to_the_pose_models_unresolved(files, weights_root, monkeypatch):  # noqa: F811
    """The warp engine runs on the CPU; --device is where the pose and garment models run, and it is resolved only
    when one loads (`human_pose.model_device`, which imports torch): with the poses cached none does. Its spelling
    is still refused at once."""
    runs = []
    monkeypatch.setattr(tryon_command, "_run", lambda *args: runs.append(args[5]))  # the run's TryOnSettings
    root = files["root"]
    garment = REPO / "examples" / "garment_upper_00057_00.jpg"
    common = ["tryon", str(root / "person.mp4"), str(garment), "--model", "warp", "-o", str(root / "device.mp4")]
    for given in ("auto", "cpu"):
        result = runner.invoke(app, [*common, "--device", given])
        assert result.exit_code == 0, result.output
    assert [settings.device for settings in runs] == ["auto", "cpu"]
    bad = runner.invoke(app, [*common, "--device", "tpu"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "use auto, cpu, or cuda[:N]" in bad.output
