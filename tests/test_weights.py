"""`dpidm weights`: the manifest, the table, `--check`, and weights/README.md kept in step with the manifest."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.errors import MissingWeightsError
from tryon_cli.weights import COMMANDS, MANIFEST, lacking_for, require

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def _create_dummies(root: Path, entries) -> None:
    for item in entries:
        base = root / item.path
        for target in [base / f for f in item.files] or [base]:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"0" * 10)


def test_empty_root_lists_every_entry_missing(weights_root):
    result = runner.invoke(app, ["weights"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    for item in MANIFEST:
        assert item.key in result.output
    assert result.output.count("missing") == len(MANIFEST)
    assert "present" not in result.output


@pytest.mark.parametrize("command", [c for c in COMMANDS if lacking_for(c, Path("/nonexistent"))])
def test_check_fails_on_empty_root_naming_the_files(weights_root, command):
    result = runner.invoke(app, ["weights", "--check", command])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    for item in lacking_for(command, weights_root):
        assert item.key in lines[0]


def test_check_passes_with_required_files_present(weights_root):
    _create_dummies(weights_root, [i for i in MANIFEST if "tryon" in i.required_by])
    result = runner.invoke(app, ["weights", "--check", "tryon"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(app, ["weights"], env={"COLUMNS": "400"})
    assert listing.output.count("present") == sum("tryon" in i.required_by for i in MANIFEST)


def test_a_partial_folder_is_missing(weights_root):
    item = next(i for i in MANIFEST if len(i.files) > 1)
    _create_dummies(weights_root, [item])
    (weights_root / item.path / item.files[-1]).unlink()
    with pytest.raises(MissingWeightsError, match=item.files[-1]):
        require(item.key, weights_root)


def test_dpidm_weights_env_relocates_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DPIDM_WEIGHTS", str(tmp_path / "elsewhere"))
    _create_dummies(tmp_path / "elsewhere", [i for i in MANIFEST if "train" in i.required_by])
    assert runner.invoke(app, ["weights", "--check", "train"]).exit_code == 0


def test_unknown_command_is_a_usage_error(weights_root):
    result = runner.invoke(app, ["weights", "--check", "dance"])
    assert result.exit_code == 2 and "unknown command" in result.output + result.stderr


def test_weights_readme_names_every_entry():
    text = (REPO / "weights" / "README.md").read_text()
    for item in MANIFEST:
        assert f"`{item.key}`" in text and f"`{item.path}`" in text, item.key

