"""Issue 24, items 2, 3, 6 and 7: what a new user met. An existing output is refused unless --overwrite (tryon, pose
and mask); a missing --checkpoint, --device cuda without CUDA and --weights that is not there are one line before
torch is imported; messages say what is wrong (an empty or backwards --frames, no arguments, a full disk); --debug
keeps exit 2; --pairs counts a pair as done only when all its outputs are there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bad_inputs import TRYON, decodes, files, refused, runner  # noqa: F401  (fixtures)
from tryon_cli.cli.main import app
from tryon_cli.errors import InputError
from tryon_cli.io import writer
from tryon_cli.tryon.batch import Pair, pending
from tryon_cli.tryon.settings import TryOnSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "existing, extra",
    [("main.mp4", []), ("side.preview.mp4", ["--preview"]), ("folder_intermediates", ["--keep-intermediates"])],
)
def test_an_existing_output_is_refused_unless_overwrite(files, decodes, existing, extra):  # noqa: F811
    root = files["root"]
    target, output = root / existing, "{root}/" + existing.split(".")[0].split("_")[0] + ".mp4"
    if existing.endswith("intermediates"):
        target.mkdir()
    else:
        target.write_bytes(b"a finished result")
    line = refused([*TRYON, output, *extra], files)
    assert f"{target} exists" in line and "--overwrite" in line
    assert decodes.probed == [] and decodes.pixel_reads == 0
    # With --overwrite the outputs pass, and the next check speaks (the range, found from the probe).
    line = refused([*TRYON, output, *extra, "--overwrite", "--frames", "4:10"], files)
    assert "--frames 4:10 is outside" in line
    assert target.exists()


@pytest.mark.parametrize(
    "args, existing",
    [
        (["pose", "{root}/person.mp4"], "person_pose.mp4"),
        (["pose", "{root}/person.mp4"], "person"),  # the folder of OpenPose JSON files
        (["pose", "{root}/garment.jpg"], "garment_landmarks.png"),
        (["mask", "{root}/person.mp4"], "agnostic/person.mp4"),
    ],
)
def test_pose_and_mask_refuse_an_existing_output_unless_overwrite(files, decodes, args, existing):  # noqa: F811
    folder = files["root"] / f"existing_{args[0]}_{existing.replace('/', '_')}"
    target = folder / existing
    if "." in existing:
        target.parent.mkdir(parents=True)
        target.write_bytes(b"a finished result")
    else:
        target.mkdir(parents=True)
    line = refused([*args, "-o", str(folder)], files)
    assert line == f"error: {target} exists; choose another output name, or add --overwrite to replace it"
    assert decodes.probed == [] and decodes.pixel_reads == 0  # nothing read: the model is not loaded either
    assert target.is_dir() or target.read_bytes() == b"a finished result"
    # With --overwrite the command goes on (to the video, or to the photo's landmarks) instead of refusing.
    result = runner.invoke(app, [*[a.format(root=files["root"]) for a in args], "-o", str(folder), "--overwrite"])
    assert "exists" not in result.stderr, result.stderr
    assert decodes.probed or args[1].endswith(".jpg")


@pytest.mark.parametrize(
    "frames, message",
    [
        ("10:5", "--frames 10:5: END (5) is before START (10)"),
        ("0:0", "--frames 0:0 is an empty range (END is exclusive: 0:1 is one frame)"),
        ("-3:5", "--frames -3:5: START must be 0 or more"),
    ],
)
def test_frames_that_are_no_range_say_why(files, decodes, frames, message):  # noqa: F811
    assert refused([*TRYON, "{root}/out.mp4", "--frames", frames], files).startswith(f"error: {message}")
    assert decodes.probed == []


def test_no_arguments_name_everything_that_is_needed(files, decodes):  # noqa: F811
    for args in (["tryon"], ["tryon", "-o", "{root}/out.mp4"], ["tryon", "{root}/person.mp4", "{root}/garment.jpg"]):
        line = refused(args, files)
        assert "VIDEO" in line and "GARMENT" in line and "-o OUT.mp4" in line and "--pairs" in line, line


def test_debug_shows_the_traceback_and_keeps_exit_2(files):
    result = runner.invoke(app, ["--debug", *[a.format(root=files["root"]) for a in TRYON], str(files["root"])])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("error: ")


NO_GPU = pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="this machine has a GPU")


# A probe that says whether torch was imported, printed last on stderr.
TORCH_SPY = """
import atexit, sys
atexit.register(lambda: print("torch imported:", "torch" in sys.modules, file=sys.stderr))
from tryon_cli.cli.main import run
sys.argv = ["dpidm", *sys.argv[1:]]
run()
"""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint", "{root}/no_checkpoint"], "--checkpoint {root}/no_checkpoint not found"),
        (["--weights", "{root}/no_weights"], "'--weights': dir '{root}/no_weights' does not exist"),
        # The trained model asked for, none given and none installed (a weights folder without dpidm/).
        (["--model", "sd15", "--weights", "{root}"], "no trained DPIDM checkpoint: {root}/dpidm not found"),
        pytest.param(
            ["--device", "cuda"],
            "--device cuda: CUDA is not available on this machine",
            marks=NO_GPU,
        ),
        # The model's window is known without a checkpoint: refused before the files are read, torch or no torch.
        (["--model", "tiny", "--overlap", "24"], "--overlap must be at least 0 and less than the window (24 frames)"),
        # The files' own checks (here: VIDEO and GARMENT swapped) come before torch too, whatever the model.
        (["--swap"], "look swapped"),
    ],
)
def test_late_early_errors_come_before_torch(files, args, message):
    root = files["root"]
    inputs = [str(root / "person.mp4"), str(root / "garment.jpg")]
    if args == ["--swap"]:
        inputs, args = inputs[::-1], ["--model", "tiny"]
    command = [
        sys.executable,
        "-c",
        TORCH_SPY,
        "tryon",
        *inputs,
        "-o",
        str(root / "late.mp4"),
        *[a.format(root=root) for a in args],
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines[-1] == "torch imported: False", result.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ") and message.format(root=root) in lines[0], lines
    assert not (root / "late.mp4").exists()


@NO_GPU
@pytest.mark.parametrize(
    "command",
    [
        ["pose", "{root}/person.mp4", "-o", "{root}/poses"],
        ["mask", "{root}/person.mp4", "-o", "{root}/masks"],
        ["eval", "--pred", "{root}/person.mp4", "--source", "{root}/person.mp4"],
        ["demo", "--port", "0"],
    ],
)
def test_cuda_without_a_gpu_is_refused_before_torch_by_every_command(files, command):
    """pose and mask imported torch to find that out (2.2 s, 700 MB), eval and demo too, and said it otherwise."""
    root = files["root"]
    args = [a.format(root=root) for a in command]
    command = [sys.executable, "-c", TORCH_SPY, *args, "--device", "cuda"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --device cuda: CUDA is not available on this machine (no CUDA driver or no GPU)",
        "torch imported: False",
    ]


def test_a_full_disk_names_the_output_not_the_audio(tmp_path, monkeypatch):
    """ffmpeg's last line when the disk filled up while muxing a source without audio (the message blamed "adding
    the audio" and named the hidden `.partial` file), without ffmpeg's log prefix and its memory address."""
    log = "[out#0/mp4 @ 0x560bc08e4fc0] Error closing file: No space left on device\n"
    failed = subprocess.CompletedProcess([], 1, "", log)
    monkeypatch.setattr(writer, "run_ffmpeg", lambda *args: failed)
    temporary, shown = tmp_path / ".out.1234.partial.mp4", tmp_path / "out.mp4"
    with pytest.raises(InputError) as caught:
        writer.mux_audio(tmp_path / "v.mp4", tmp_path / "a.mp4", temporary, 1.0, shown=shown)
    assert str(caught.value) == f"cannot write {shown}: Error closing file: No space left on device"


def test_a_pair_is_done_only_when_every_output_asked_for_is_there(tmp_path):
    pairs = [Pair(tmp_path / "v.mp4", tmp_path / f"g{i}.jpg", None, tmp_path / f"v__g{i}.mp4") for i in range(3)]
    pairs[0].output.write_bytes(b"done, no preview")
    pairs[1].output.write_bytes(b"done")
    (tmp_path / "v__g1.preview.mp4").write_bytes(b"done")
    todo, done = pending(pairs, TryOnSettings(preview=True))
    assert done == [pairs[1]] and todo == [pairs[0], pairs[2]]
    todo, done = pending(pairs, TryOnSettings())
    assert done == pairs[:2] and todo == [pairs[2]]


def test_a_warning_is_not_printed_as_a_note():
    from io import StringIO

    from rich.console import Console

    from tryon_cli.cli.progress import StageProgress

    printed = StringIO()
    progress = StageProgress(Console(file=printed, width=200))
    progress.note("warning: the garment covers 90% of the photo")
    progress.note("no garment landmark model")
    assert printed.getvalue().splitlines() == [
        "warning: the garment covers 90% of the photo",
        "note: no garment landmark model",
    ]


def test_a_note_is_one_line_when_stderr_is_not_a_terminal(files):
    """Rich wrapped the engine's note at 80 columns when stderr went to a pipe or a log (three lines)."""
    root = files["root"]
    garment = REPO / "examples/garment_upper_00057_00.jpg"
    command = [sys.executable, "-m", "tryon_cli", "tryon", str(root / "person.mp4"), str(garment)]
    command += ["-o", str(root / "noted.mp4"), "--weights", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    note = f"note: no trained DPIDM checkpoint in {root / 'dpidm'}: using the weights-free warp engine"
    assert note + " (not the paper's DPIDM)" in result.stderr.splitlines(), result.stderr
