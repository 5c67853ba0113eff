"""Ctrl-C (SIGINT) or SIGTERM while `dpidm pose` or `dpidm mask` writes its videos leaves nothing behind (no output,
no partial file, no folder the run made) and says so in one line, as `dpidm tryon` does (test_tryon_interrupt.py):
before, pose kept its JSON folder and mask and pose their `.partial.mp4` files, with no message (SIGTERM: exit -15).
And a signal that comes out of a native module's import as another error is still the interruption."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from rich.console import Console

from tests.test_tryon_interrupt import RUN_CLI, pose_cache  # noqa: F401  (a fixture)
from tryon_cli.cli.interrupts import interruptible

REPO = Path(__file__).resolve().parents[1]
# The CLI with each video writer named at its first frame, and every frame written 0.05 s slower, so that the
# signal lands while the command's videos are being written.
DRIVER = """
import sys, time
from tryon_cli.io import writer
write = writer.VideoWriter.write
def slow(self, frame):
    if self.frame_count == 0:
        print("writing:", self.path.name, flush=True)
    time.sleep(0.05)
    return write(self, frame)
writer.VideoWriter.write = slow
"""


@pytest.mark.parametrize(
    "command, signum",
    [(["pose"], signal.SIGTERM), (["mask", "--category", "upper"], signal.SIGINT)],
)
def test_pose_and_mask_interrupted_while_writing_leave_nothing(command, signum, pose_cache, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "DPIDM_CACHE": str(pose_cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    video = str(REPO / "examples/person.mp4")
    # Into a folder that does not exist yet: the run makes it, and an interrupted run removes it again.
    argv = [sys.executable, "-c", DRIVER + RUN_CLI, *command, video, "-o", str(out / "new"), "--pose-backend", "yolo"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO, text=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("writing:"):
            break
    else:
        pytest.fail("the run ended before writing a video:\n" + "".join(seen[-30:]))
    process.send_signal(signum)
    rest = process.communicate(timeout=120)[0]
    assert process.returncode == 128 + signum, rest[-2000:]
    assert f"interrupted ({signum.name}): nothing of the run in progress written" in rest
    assert "wrote" not in rest and "Traceback" not in rest
    assert sorted(os.listdir(out)) == []  # no JSON folder, no partial video, no agnostic/ or new/ folder


def test_a_signal_that_surfaces_as_another_error_is_the_interruption():
    """A SIGTERM that lands while a native module initialises comes out of its import as `ImportError:
    initialization failed` (seen with the warp engine's ai_edge_litert: a traceback and exit 1)."""
    console = Console(file=io.StringIO(), width=200)
    with pytest.raises(typer.Exit) as stopped:
        with interruptible(console):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                signal.pause()  # the handler raises here
            except KeyboardInterrupt as err:
                raise ImportError("initialization failed") from err
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert console.file.getvalue() == "interrupted (SIGTERM): nothing of the run in progress written\n"


def test_an_error_without_a_signal_goes_on():
    console = Console(file=io.StringIO())
    with pytest.raises(ImportError):
        with interruptible(console):
            raise ImportError("initialization failed")
    assert console.file.getvalue() == ""
