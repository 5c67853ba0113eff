"""Bad input files through the CLI: each is one `error:` line on stderr naming the file, exit code 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.io import write_video

runner = CliRunner()


def clip(path: Path) -> Path:
    write_video(path, [np.full((32, 48, 3), 10 * t, np.uint8) for t in range(6)], 24)
    return path


def assert_one_line_error(args: list[str], names: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    return lines[0]


def test_missing_file(tmp_path):
    assert "not found" in assert_one_line_error(["info", str(tmp_path / "nope.mp4")], "nope.mp4")


def test_directory_instead_of_file(tmp_path):
    folder = tmp_path / "videos.mp4"
    folder.mkdir()
    assert "is a folder" in assert_one_line_error(["info", str(folder)], "videos.mp4")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").touch()
    assert "empty" in assert_one_line_error(["info", str(tmp_path / "empty.mp4")], "empty.mp4")


def test_text_file_named_mp4(tmp_path):
    (tmp_path / "notes.mp4").write_text("this is not a video\n")
    assert_one_line_error(["info", str(tmp_path / "notes.mp4")], "notes.mp4")


def test_truncated_real_mp4(shared_data, tmp_path):
    """The ViViD clip keeps its index at the end: half the file does not open at all."""
    data = (shared_data / "vivid" / "videos" / "upper1.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    assert_one_line_error(["info", str(tmp_path / "half.mp4")], "half.mp4")


def test_truncated_mp4_with_index_first(tmp_path):
    """dpidm's own outputs keep the index first (faststart): half the file opens, and must still be refused."""
    data = clip(tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    assert "ends early" in assert_one_line_error(["info", str(tmp_path / "half.mp4")], "half.mp4")


def test_good_video_and_debug_traceback(tmp_path):
    result = runner.invoke(app, ["info", str(clip(tmp_path / "ok.mp4")), "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert (meta["frame_count"], meta["fps"], meta["width"], meta["height"], meta["has_audio"]) == (
        6,
        24.0,
        48,
        32,
        False,
    )

    result = runner.invoke(app, ["--debug", "info", str(tmp_path / "nope.mp4")])
    # --debug shows the traceback and keeps the exit code of a known problem (2)
    assert result.exit_code == 2 and "Traceback" in result.output, result.output


@pytest.mark.parametrize("args", [["info", "--help"], ["--help"]])
def test_info_is_listed_with_examples(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "info" in result.stdout
