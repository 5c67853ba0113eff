"""The `dpidm` app itself: version, help, and a start-up that does not load the heavy libraries."""

import subprocess
import sys

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


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "tryon_cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"dpidm {__version__}"
