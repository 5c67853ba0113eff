"""The `dpidm` app itself: version, help, and a start-up that does not load the heavy libraries."""

import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tryon_cli import __version__
from tryon_cli.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"dpidm {__version__}"


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("tryon", "pose", "mask", "train", "eval", "weights", "info"):
        assert f" {command} " in result.output, command


def test_cli_start_up_imports_no_heavy_library():
    """`dpidm --help` and argument errors must answer at once: torch, diffusers, transformers and ultralytics
    load only inside the commands that use them."""
    heavy = ("torch", "diffusers", "transformers", "ultralytics", "scipy")
    code = f"import sys, tryon_cli.cli.main; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


REPO = Path(__file__).resolve().parents[1]
# A run of the CLI in which torch cannot be imported (the arguments follow the code, `python -c CODE ARGS`).
WITHOUT_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not to be imported here")

sys.meta_path.insert(0, NoTorch())
from tryon_cli.cli.main import app

app()
"""


def test_a_warp_try_on_with_its_poses_cached_imports_no_torch(tmp_path):
    """The warp engine needs no torch, and importing it cost `dpidm tryon --model warp` about 0.8 GB of resident
    memory (the 1080x1920 dancer peaked at 1.3 GB with it, 0.5 GB without). The first run poses the example (YOLO,
    which does need torch) and caches the poses; the second, with torch unimportable, must still dress it."""
    (tmp_path / "weights").mkdir()
    env = {**os.environ, "DPIDM_CACHE": str(tmp_path / "cache"), "DPIDM_WEIGHTS": str(tmp_path / "weights")}
    env["PYTHONPATH"] = str(REPO)
    video, garment = REPO / "examples/person.mp4", REPO / "examples/garment_upper_00057_00.jpg"
    args = ["tryon", str(video), str(garment), "--model", "warp", "--frames", "0:4"]
    posed = subprocess.run(
        [sys.executable, "-m", "tryon_cli", *args, "-o", str(tmp_path / "posed.mp4")],
        env=env, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert posed.returncode == 0, posed.stderr[-2000:]
    cached = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, *args, "-o", str(tmp_path / "cached.mp4")],
        env=env, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert cached.returncode == 0, cached.stderr[-2000:]
    assert (tmp_path / "cached.mp4").stat().st_size > 0


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "tryon_cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"dpidm {__version__}"


def _leaf_commands(command, path=()):
    import typer.main

    command = typer.main.get_command(command) if not path else command
    subcommands = getattr(command, "commands", {})
    if not subcommands or getattr(command, "invoke_without_command", False):
        yield path, command
    for name, sub in subcommands.items():
        yield from _leaf_commands(sub, (*path, name))


def test_every_help_text_shows_whole_at_80_columns():
    """Brackets survive (Rich markup read '[upper|lower|dress]' and '[default: 42]' as tags and dropped them), and
    every option's help and every epilog appear word for word, however the lines wrap."""
    normal = lambda text: re.sub(r"-\s+", "-", " ".join(text.split()))  # noqa: E731  (wrapping may split at "-")
    checked = 0
    for path, command in _leaf_commands(app):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, (path, result.output)
        shown = normal(result.output)
        assert max(len(line) for line in result.output.splitlines()) <= 80, path
        for param in command.params:
            if getattr(param, "help", None):
                assert normal(param.help) in shown, (path, param.help)
                checked += 1
        if command.epilog:
            assert normal(command.epilog) in shown, path
    assert checked > 40
    tryon = runner.invoke(app, ["tryon", "--help"], env={"COLUMNS": "80"}).output
    assert "'VIDEO GARMENT [upper|lower|dress]'" in normal(tryon)
    assert "[default: 42]" in normal(runner.invoke(app, ["train", "run", "--help"], env={"COLUMNS": "80"}).output)
