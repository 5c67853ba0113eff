"""Issue 14: every foreseeable bad input is one `error:` line and exit 2, found before any model or decode, and no
command writes over one of its inputs.

`decodes` counts what ffmpeg is asked to do (per file: probes, which decode to count frames, and pixel reads), and
the model loaders are replaced by ones that fail the test, so a refusal that came late would show.
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tryon_cli import engines
from tryon_cli.cli.main import app
from tryon_cli.io import video as video_module
from tryon_cli.io import write_video
from tryon_cli.preprocess import human_pose

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    write_video(root / "person.mp4", [np.full((48, 32, 3), 20 * t, np.uint8) for t in range(6)], 24)
    write_video(root / "short_mask.mp4", [np.zeros((48, 32, 3), np.uint8)] * 3, 24)
    write_video(root / "wide_mask.mp4", [np.zeros((32, 64, 3), np.uint8)] * 6, 24)
    Image.new("RGB", (24, 32), "white").save(root / "garment.jpg")
    (root / "notes.mp4").write_text("not a video\n")
    (root / "a_file").write_text("x")
    (root / "pairs.txt").write_text("person.mp4 garment.jpg\n")
    # With -o {root}/results, that pair's output would be results/person__garment.mp4: here a folder.
    (root / "results" / "person__garment.mp4").mkdir(parents=True)
    (root / "a_folder").mkdir()
    (root / "preds").mkdir()
    (root / "out_intermediates").mkdir()
    write_video(root / "out_intermediates" / "mask.mp4", [np.zeros((48, 32, 3), np.uint8)] * 6, 24)
    write_video(root / "preds" / "v.mp4", [np.zeros((16, 16, 3), np.uint8)] * 2, 24)
    return {"root": root}


class Decodes:
    """Which files ffmpeg probed, and how many pixel decodes began."""

    def __init__(self):
        self.probed: list[str] = []
        self.pixel_reads = 0


@pytest.fixture()
def decodes(monkeypatch, weights_root) -> Decodes:
    seen = Decodes()
    video_module._probe.cache_clear()  # earlier tests' probes would hide these
    probe, read = video_module.run_ffmpeg, imageio_ffmpeg.read_frames

    def counted_probe(*args):
        seen.probed.append(Path(args[args.index("-i") + 1]).name)
        return probe(*args)

    def counted_read(*args, **kwargs):
        seen.pixel_reads += 1
        return read(*args, **kwargs)

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the refusal")

    monkeypatch.setattr(video_module, "run_ffmpeg", counted_probe)
    monkeypatch.setattr(imageio_ffmpeg, "read_frames", counted_read)
    monkeypatch.setattr(human_pose, "load_backend", no_model)
    monkeypatch.setattr(engines, "build_engine", no_model)
    return seen


def refused(args: list[str], files: dict, **env) -> str:
    root = files["root"]
    args = [a.format(root=root) for a in args]
    result = runner.invoke(app, args, env={"DPIDM_CACHE": str(root / "cache"), **env})
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
    assert "Traceback" not in result.output
    return lines[0]


TRYON = ["tryon", "{root}/person.mp4", "{root}/garment.jpg", "--model", "tiny", "-o"]
# Option values out of range and output paths that cannot be written: refused before any file is probed.
OPTION_CASES = {
    "tryon": [
        [*TRYON, "{root}/person.mp4"],
        [*TRYON, "{root}/garment.jpg"],
        [*TRYON, "{root}/a_folder"],
        [*TRYON, "{root}/out"],
        [*TRYON, "{root}/out.avi"],
        [*TRYON, "/proc/out.mp4"],
        [*TRYON, "{root}/out.mp4", "--steps", "0"],
        [*TRYON, "{root}/out.mp4", "--steps", "5000"],
        [*TRYON, "{root}/out.mp4", "--height", "0"],
        [*TRYON, "{root}/out.mp4", "--height", "100"],
        [*TRYON, "{root}/out.mp4", "--width", "-8"],
        [*TRYON, "{root}/out.mp4", "--guidance", "nan"],
        [*TRYON, "{root}/out.mp4", "--guidance", "inf"],
        [*TRYON, "{root}/out.mp4", "--window", "0"],
        [*TRYON, "{root}/out.mp4", "--overlap", "24"],
        [*TRYON, "{root}/out.mp4", "--overlap", "-1"],
        [*TRYON, "{root}/out.mp4", "--window", "4", "--overlap", "4"],
        [*TRYON, "{root}/out.mp4", "--frames", "abc"],
        [*TRYON, "{root}/out.mp4", "--category", "hat"],
        [*TRYON, "{root}/out.mp4", "--weighting", "gauss"],
        [*TRYON, "{root}/out.mp4", "--dtype", "fp8"],
        [*TRYON, "{root}/out.mp4", "--attention", "flash"],
        [*TRYON, "{root}/out.mp4", "--mask", "{root}/missing.mp4"],
        ["tryon", "{root}/person.mp4", "{root}/garment.jpg", "--model", "bogus", "-o", "{root}/out.mp4"],
        ["tryon", "{root}/person.mp4", "-o", "{root}/out.mp4"],
        ["tryon", "{root}/garment.jpg", "{root}/person.mp4", "-o", "{root}/out.mp4", "--model", "tiny"],
        [*TRYON, "{root}/out.mp4", "--preview", "--keep-intermediates", "--mask", "{root}/out_intermediates/mask.mp4"],
        # --pairs: the output folder and every pair's output, before the engine is built.
        ["tryon", "--pairs", "{root}/pairs.txt", "--model", "tiny", "-o", "{root}/a_file"],
        ["tryon", "--pairs", "{root}/pairs.txt", "--model", "tiny", "-o", "/proc/results"],
        ["tryon", "--pairs", "{root}/pairs.txt", "--model", "tiny", "-o", "{root}/results"],
    ],
    "pose": [
        ["pose", "{root}/person.mp4", "--pose-backend", "openpose"],
        ["pose", "{root}/person.mp4", "--device", "tpu"],
        ["pose", "{root}/person.mp4", "--device", "cuda:x"],
        ["pose", "{root}/person.mp4", "-o", "{root}/a_file"],
        ["pose", "{root}/person.mp4", "-o", "/proc/poses"],
        ["pose", "{root}/garment.jpg", "--category", "hat"],
        ["pose", "{root}/garment.jpg", "-o", "/proc/poses"],
        ["pose", "{root}/missing.mp4"],
        ["pose", "{root}/person.mp4", "--bogus"],
        ["pose", "train-garment", "--data", "{root}/missing.yaml"],
        ["pose", "train-garment", "--data", "{root}/a_file", "--epochs", "0"],
        ["pose", "train-garment", "--data", "{root}/a_file", "-o", "{root}/a_file"],
        ["pose", "train-garment", "--data", "{root}/a_file", "-o", "/proc/model.pt"],
    ],
    "mask": [
        ["mask", "{root}/person.mp4", "--category", "hat"],
        ["mask", "{root}/person.mp4", "--pose-backend", "openpose"],
        ["mask", "{root}/person.mp4", "--device", "gpu"],
        ["mask", "{root}/person.mp4", "-o", "/proc/masks"],
        ["mask", "{root}/person.mp4", "-o", "{root}/a_file"],
        ["mask", "{root}/person.mp4", "--mask", "{root}/missing.mp4"],
        ["mask", "{root}/person.mp4", "--mask", "{root}/a_folder"],
        ["mask", "{root}/missing.mp4"],
    ],
    "info": [
        ["info"],
        ["info", "{root}/missing.mp4"],
        ["info", "{root}/a_folder"],
    ],
    "weights": [
        ["weights", "--check", "dance"],
        ["weights", "fetch", "bert"],
        ["weights", "fetch", "lpips", "--net", "resnet"],
        ["weights", "fetch"],
    ],
    "eval": [
        ["eval", "--pred", "{root}/preds", "--gt", "{root}/preds", "--json", "{root}/scores.txt"],
        ["eval", "--pred", "{root}/preds", "--gt", "{root}/preds", "--json", "/proc/scores.json"],
        ["eval", "--pred", "{root}/preds", "--gt", "{root}/preds", "--json", "{root}/a_folder"],
        ["eval", "--pred", "{root}/preds", "--gt", "{root}/preds", "--max-frames", "0"],
        ["eval", "--pred", "{root}/missing", "--gt", "{root}/preds"],
        ["eval", "--pred", "{root}/preds"],
    ],
}


@pytest.mark.parametrize(
    "args",
    [case for cases in OPTION_CASES.values() for case in cases],
    ids=lambda args: " ".join(a.replace("{root}/", "") for a in args),
)
def test_bad_options_and_outputs_are_one_line_before_any_decode(args, files, decodes):
    refused(args, files)
    assert decodes.probed == [] and decodes.pixel_reads == 0


def test_a_bad_mask_video_is_refused_before_the_person_video_is_read(files, decodes):
    assert "cannot read video" in refused(["mask", "{root}/person.mp4", "--mask", "{root}/notes.mp4"], files)
    assert decodes.probed == ["notes.mp4"] and decodes.pixel_reads == 0  # the person video was not even probed


@pytest.mark.parametrize(
    "mask, message",
    [("short_mask.mp4", "has 3 frames; .* needs 6"), ("wide_mask.mp4", "is 64x32, which is not the shape of")],
)
def test_a_mask_of_another_video_is_refused_before_any_frame_is_decoded(files, decodes, mask, message):
    import re

    assert re.search(message, refused(["mask", "{root}/person.mp4", "--mask", f"{{root}}/{mask}"], files))
    assert sorted(decodes.probed) == sorted([mask, "person.mp4"]) and decodes.pixel_reads == 0


@pytest.mark.parametrize(
    "args, first, message",
    [
        (["--mask", "{root}/notes.mp4"], ["notes.mp4"], "cannot read video"),
        (["--mask", "{root}/short_mask.mp4"], ["short_mask.mp4", "person.mp4"], "has 3 frames; .* needs 6"),
        (["--mask", "{root}/wide_mask.mp4"], ["wide_mask.mp4", "person.mp4"], "not the shape of"),
        (["--frames", "4:10"], ["person.mp4"], "--frames 4:10 is outside the video's 6 frames"),
    ],
)
def test_tryon_refuses_a_bad_mask_or_range_before_any_frame_or_model(files, decodes, args, first, message):
    import re

    line = refused([*TRYON, "{root}/out.mp4", *args], files)
    assert re.search(message, line), line
    assert decodes.probed == first and decodes.pixel_reads == 0


def test_mask_never_writes_over_its_input(files, decodes, tmp_path):
    """`dpidm mask OUT/agnostic/x.mp4 -o OUT` would have replaced its own input (issue 14)."""
    source = tmp_path / "agnostic" / "x.mp4"
    source.parent.mkdir()
    source.write_bytes((files["root"] / "person.mp4").read_bytes())
    before = source.read_bytes()
    assert "would be overwritten" in refused(["mask", str(source), "-o", str(tmp_path)], files)
    assert source.read_bytes() == before and decodes.probed == []


def test_pose_never_writes_over_its_input_even_through_a_symlink(files, decodes, tmp_path):
    (tmp_path / "person_pose.mp4").symlink_to(files["root"] / "person.mp4")
    assert "would be overwritten" in refused(["pose", "{root}/person.mp4", "-o", str(tmp_path)], files)
    assert os.path.islink(tmp_path / "person_pose.mp4") and decodes.probed == []


def test_a_video_given_as_the_garment_photo_is_one_line(files, decodes):
    """Read through dpidm's own image reader, not the Image.open that importing ultralytics replaces (it then
    tried to import pi_heif: a traceback)."""
    import ultralytics  # noqa: F401  (patches PIL.Image.open, as the pose command's import does)

    from tryon_cli.errors import InputError
    from tryon_cli.io import read_image

    with pytest.raises(InputError, match="not an image PIL can read"):
        read_image(files["root"] / "person.mp4")


def test_the_light_attention_list_of_the_cli_is_the_models():
    from tryon_cli.cli.tryon import ATTENTIONS
    from tryon_cli.models.attention.backend import BACKENDS

    assert ATTENTIONS == BACKENDS
