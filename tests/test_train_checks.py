"""`dpidm train` refuses what it can foresee before any work (bad values, an unwritable or already used output
folder, a step that cannot fit in memory), and its training state round-trips without pickle."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import tryon_cli.training.memory as memory
import tryon_cli.training.trainer as trainer
from tests.test_data_fixtures import build_vivid
from tryon_cli.cli.main import app
from tryon_cli.models import DPIDM
from tryon_cli.models.checkpoint import resolve_checkpoint
from tryon_cli.training.checkpoint import rng_state, set_rng_state
from tryon_cli.training.config import load_config
from tryon_cli.training.state_io import load_state, save_state

H, W = 32, 24
SMALL = [f"data.height={H}", f"data.width={W}", "data.clip_length=4", "data.num_workers=0", "logging.tensorboard=false"]


@pytest.fixture(scope="module")
def vivid(tmp_path_factory, shared_data):
    return build_vivid(tmp_path_factory.mktemp("vivid") / "ViViD", shared_data, frames=6, height=H * 2, width=W * 2)


@pytest.fixture
def no_data(monkeypatch):
    """Fails the test if the dataset is opened: a refusal must come before any data is read."""

    def refuse(*args, **kwargs):
        raise AssertionError("the dataset was opened before the refusal")

    monkeypatch.setattr(trainer, "TryOnDataset", refuse)


def _train(root, output, *extra):
    sets = [arg for item in SMALL for arg in ("--set", item)]
    return CliRunner().invoke(
        app,
        ["train", "--data", "vivid", "--root", str(root), "--model", "tiny", "--output", str(output), *sets, *extra],
    )


def _one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--batch-size", "0"], "train.batch_size must be at least 1, got 0"),
        (["--max-steps", "-1"], "train.max_steps must be at least 1"),
        (["--set", "data.height=100"], "data.height must be a positive multiple of 8"),
        (["--set", "train.learning_rate=nan"], "train.learning_rate must be positive"),
        (["--variant", "e"], "variant must be one of a, b, c, d"),
        (["--set", "train.trainable=some"], "train.trainable must be paper or all"),
        (["--model", "sd15", "--set", "train.trainable=all"], "train.trainable must be paper with --model sd15"),
        (["--set", "noise_schedule=cosine"], "noise_schedule must be sd15 or zero_snr_v, got 'cosine'"),
        (["--model", "sd15", "--set", "noise_schedule=zero_snr_v"], "noise_schedule must be sd15 with --model sd15"),
    ],
)
def test_bad_values_are_one_line_before_any_work(vivid, tmp_path, no_data, extra, expected):
    line = _one_error_line(_train(vivid, tmp_path / "run", *extra))
    assert expected in line and not (tmp_path / "run").exists()


def test_an_unprepared_dataset_is_one_line_naming_prepare_before_the_run_folder(tmp_path, shared_data, no_data):
    """Nothing cached (or only the dataset's own masks, while training reads dpidm's): one line with the command
    that prepares it, and no run folder (before: a DataLoader traceback after training.yaml and the logs)."""
    root = build_vivid(tmp_path / "ViViD", shared_data, frames=2, prepare=False)
    line = _one_error_line(_train(root, tmp_path / "run"))
    assert f"run `dpidm train prepare --data vivid --root {root}` first" in line
    assert "poses of 2" in line and "masks of 2" in line and not (tmp_path / "run").exists()
    # the dataset's masks asked for: masks are not missing, poses still are
    line = _one_error_line(_train(root, tmp_path / "run", "--set", "data.masks=dataset"))
    assert "poses of 2" in line and "masks" not in line.split("(")[1] and not (tmp_path / "run").exists()


def test_a_flat_vivid_folder_without_its_pair_list_is_told_so(tmp_path, shared_data, no_data):
    root = build_vivid(tmp_path / "ViViD", shared_data, frames=2, prepare=False) / "upper_body"
    (root / "train_pairs.txt").unlink()
    line = _one_error_line(_train(root, tmp_path / "run"))
    assert "train_pairs.txt" in line and "pair list" in line and not (tmp_path / "run").exists()


def test_unwritable_output_is_one_line_before_any_work(vivid, tmp_path, no_data):
    assert "cannot write in /proc" in _one_error_line(_train(vivid, "/proc/x"))
    (tmp_path / "file").write_text("")
    assert "is not a folder" in _one_error_line(_train(vivid, tmp_path / "file" / "run"))


def test_a_bad_root_shows_no_progress_bar(tmp_path, no_data):
    assert "expected the folder" in _one_error_line(_train(tmp_path / "nowhere", tmp_path / "run"))


def test_an_earlier_run_is_not_mixed_into(vivid, tmp_path):
    first = _train(vivid, tmp_path / "run", "--max-steps", "1")
    assert first.exit_code == 0, first.output
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    line = _one_error_line(_train(vivid, tmp_path / "run", "--max-steps", "2"))
    assert "already holds a run (checkpoint 1)" in line and "--resume" in line and "new --output" in line
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == metrics
    # `latest` and the run folder are names `dpidm tryon --checkpoint` accepts
    for name in (tmp_path / "run" / "checkpoints" / "latest", tmp_path / "run"):
        assert resolve_checkpoint(name).folder == tmp_path / "run" / "checkpoints" / "1"


def test_preflight_refuses_a_step_that_cannot_fit_and_names_the_fix(vivid, tmp_path, monkeypatch, no_data):
    config = load_config(overrides=[*SMALL, "model=tiny", f"data.root={vivid}"])
    need = max(m.total for m in memory.estimate(config, "cpu"))
    free = need - 1
    monkeypatch.setattr(memory, "free_memory", lambda device: free)
    line = _one_error_line(_train(vivid, tmp_path / "run"))
    assert re.search(r"a (image|video) step needs about \d+\.\d GiB and this machine has \d+\.\d GiB free", line)
    fix = re.findall(r"--set (\S+)", line)
    assert fix, line
    fitted = load_config(overrides=[*SMALL, "model=tiny", *fix])
    assert max(m.total for m in memory.estimate(fitted, "cpu")) <= free  # the suggested overrides do fit
    assert not (tmp_path / "run").exists()


def test_the_activation_count_on_the_meta_device_equals_what_a_real_forward_saves():
    """The estimate's core: on the meta device (shapes only) the count must equal the bytes autograd saves in the
    same forward on real CPU tensors (where SDPA is a fused kernel), image and video phase with the TRA maps."""
    loss = load_config().loss
    real = DPIDM.from_config("tiny", seed=0).train()
    with torch.device("meta"):
        meta = DPIDM.from_config("tiny").train()
    for phase, frames in (("image", 1), ("video", 4)):
        for model in (real, meta):
            model.set_trainable(phase)
        device = "cpu"
        batch = memory.meta_batch(2, frames, H, W, device=device)
        batch["pixel_values"] = torch.rand(batch["pixel_values"].shape, generator=torch.Generator().manual_seed(0))
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t.numel() * t.element_size()) or t, lambda t: t
        ):
            trainer.diffusion_losses(real, batch, phase, loss, torch.Generator().manual_seed(0))
        counted = memory.count_activations(meta, memory.meta_batch(2, frames, H, W), phase, loss)
        assert counted == sum(saved), (phase, counted, sum(saved))


def test_training_state_round_trips_exactly_without_pickle(tmp_path):
    parameter = torch.nn.Parameter(torch.randn(5))
    optimizer = torch.optim.Adam([parameter], lr=1e-3)
    parameter.grad = torch.randn(5)
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "rng": rng_state(), "step": 7, "pair": (1, 2.5), "none": None}
    save_state(state, tmp_path / "state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.safetensors"]
    back = load_state(tmp_path / "state")
    assert back["step"] == 7 and back["pair"] == (1, 2.5) and back["none"] is None
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    for key, value in state["optimizer"]["state"][0].items():
        assert torch.equal(back["optimizer"]["state"][0][key], value), key
    before = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(back["rng"])
    after = (random.random(), np.random.rand(), torch.rand(3))
    assert before[:2] == after[:2] and torch.equal(before[2], after[2])


def test_loader_workers_are_capped_to_the_cpus(vivid, tmp_path, monkeypatch):
    made = []
    real = trainer.DataLoader
    monkeypatch.setattr(trainer, "usable_cpus", lambda: 1)
    monkeypatch.setattr(
        trainer, "DataLoader", lambda *args, **kwargs: made.append(kwargs["num_workers"]) or real(*args, **kwargs)
    )
    config = load_config(
        overrides=[*SMALL, "model=tiny", f"data.root={vivid}", "data.num_workers=4", "train.max_steps=1"]
    )
    trainer.train(config, tmp_path / "run")
    assert made == [1]


def test_the_config_offers_exactly_the_models_noise_schedules():
    """`noise_schedule` is checked against names training's config keeps (reading a config imports no torch)."""
    from tryon_cli.models.configs import NOISE_SCHEDULES as MODEL_SCHEDULES
    from tryon_cli.training.config import NOISE_SCHEDULES

    assert set(NOISE_SCHEDULES) == set(MODEL_SCHEDULES)
