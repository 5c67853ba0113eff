"""Training on the tiny model (CPU): phase-wise gradients, frozen weights, TRA, overfitting, resume after SIGTERM,
a non-finite loss, the CLI's outputs, and a checkpoint that loads for inference."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate
from typer.testing import CliRunner

import tryon_cli.training.objective as objective
import tryon_cli.training.trainer as trainer
from tests.test_data_fixtures import build_vivid, build_vvt
from tryon_cli.cli.main import app
from tryon_cli.data import scan
from tryon_cli.data.dataset import Augmentation, TryOnDataset
from tryon_cli.data.sampler import JointSampler
from tryon_cli.models import DPIDM, PHASES
from tryon_cli.models.checkpoint import restore
from tryon_cli.models.dpidm import TINY_BASE_SEED
from tryon_cli.training.checkpoint import find_checkpoint
from tryon_cli.training.config import load_config
from tryon_cli.training.losses import tra_loss

H, W = 32, 24
SMALL = [
    f"data.height={H}",
    f"data.width={W}",
    "data.clip_length=4",
    "data.num_workers=0",
    "logging.tensorboard=false",
    "model=tiny",
]


def _train_command(vivid: Path, max_steps: int, *settings: str) -> list[str]:
    """`dpidm train` of the tiny model on `vivid` with SMALL and `settings` (KEY=VALUE) as --set."""
    sets = [arg for item in [*SMALL[:-1], *settings] for arg in ("--set", item)]  # SMALL[-1] is --model tiny here
    return ["train", "--data", "vivid", "--root", str(vivid), "--model", "tiny", "--max-steps", str(max_steps), *sets]


def _tryon_example(checkpoint, out: Path, *extra: str):
    """`dpidm tryon` of the shipped example with the tiny model and `checkpoint`, on the CPU."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    person, garment = examples / "person.mp4", examples / "garment_upper_00057_00.jpg"
    command = ["tryon", str(person), str(garment), "-o", str(out), "--model", "tiny", "--checkpoint", str(checkpoint)]
    return CliRunner().invoke(app, [*command, *extra, "--device", "cpu"])


@pytest.fixture(scope="module")
def vivid(tmp_path_factory, shared_data):
    return build_vivid(tmp_path_factory.mktemp("vivid") / "ViViD", shared_data, frames=6, height=H * 2, width=W * 2)


def _config(root, *extra):
    return load_config(overrides=[*SMALL, f"data.root={root}", *extra])


def _batch(root, step, clip_length=4, seed=0):
    dataset = TryOnDataset(scan("vivid", root), root, H, W, Augmentation())
    keys = JointSampler(dataset.frame_counts, 2, clip_length, seed, garment_dropout=0.5).batch(step)
    return default_collate([dataset[k] for k in keys])


def _tiny(warm: bool = False) -> DPIDM:
    """The tiny model; `warm`: its zero-initialised tensors (adapter W_up, new output projections) made small and
    random, as after some training, so that gradient can reach what sits behind them (a zero W_up blocks it)."""
    model = trainer.build_model(load_config(overrides=["model=tiny"]))
    if warm:
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.checkpoint_parameters().values():
                if not p.any():
                    p.copy_(0.02 * torch.randn(p.shape, generator=generator))
    return model


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_each_phase_trains_its_own_parameters_and_nothing_else(vivid):
    model = _tiny(warm=True)
    config = _config(vivid)
    own = {phase: model.named_trainable_parameters(phase) for phase in PHASES}
    assert own["image"] and own["video"] and not set(own["image"]) & set(own["video"])
    for step, phase in enumerate(PHASES):  # step 0 is an image step, step 1 a video step
        model.set_trainable(phase)
        model.zero_grad(set_to_none=True)
        losses = objective.diffusion_losses(
            model, _batch(vivid, step), phase, config.loss, torch.Generator().manual_seed(0)
        )
        losses["loss"].backward()
        with_grad = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert with_grad and with_grad <= set(own[phase]), sorted(with_grad - set(own[phase]))[:5]
        other = "video" if phase == "image" else "image"
        assert not with_grad & set(own[other])
        # the modules named by the paper each receive gradient in their phase
        groups = ("pose_encoder.", ".attn1.", ".attn2.", ".pasa_adapter.") if phase == "image" else (".tsa.", ".pata.")
        for group in groups:
            assert any(group in f".{name}" for name in with_grad), (phase, group)
        missing = [name for name, p in own[phase].items() if p.grad is None]
        assert not missing, missing[:5]


def test_training_leaves_frozen_weights_bit_identical(vivid, tmp_path):
    model = _tiny()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trained = set(model.checkpoint_parameters())
    trainer.train(_config(vivid, "train.max_steps=2", "train.learning_rate=1e-3"), tmp_path / "run", model=model)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed and changed <= trained
    assert any(name in changed for name in model.named_trainable_parameters("image"))
    assert any(name in changed for name in model.named_trainable_parameters("video"))
    for part in ("vae", "image_encoder", "garment_unet"):
        for name, p in getattr(model, part).named_parameters():
            assert torch.equal(p.detach(), before[f"{part}.{name}"]), name


def test_tra_on_model_maps_and_its_gradient_reaches_the_temporal_modules(vivid):
    model = _tiny()
    model.set_trainable("video")
    batch = _batch(vivid, 1)
    # A still clip (every frame the same, two different samples in the batch): the PASA maps of the last two
    # decoder layers agree frame to frame, so TRA is 0; a mix-up of the (batch, frame) layout would show here.
    garment = model.garment_encoder.encode(batch["garment_pixels"], batch["garment_pose_map"])
    still = torch.randn(2, 9, 1, H // 8, W // 8).expand(-1, -1, 4, -1, -1)
    pose = batch["human_pose_maps"][:, :, :1].expand(-1, -1, 4, -1, -1)
    _, handed = model.main_unet(
        still, torch.tensor([500, 20]), garment=garment, human_pose_maps=pose, return_tra_inputs=True
    )
    assert set(handed) == set(model.tra_layer_names) and len(handed) == 2
    layers = [tuple(t.detach() for t in handed[n]) for n in model.tra_layer_names]
    assert float(tra_loss(layers, [0.5, 0.5])) < 1e-6

    config = _config(vivid, "loss.tra_weight_video=1.0").loss
    moving = objective.diffusion_losses(model, batch, "video", config, torch.Generator().manual_seed(0))
    tra, mse, total = (float(moving[k].detach()) for k in ("tra", "mse", "loss"))
    assert tra > 1e-3 and total == pytest.approx(mse + tra)
    model.zero_grad(set_to_none=True)
    moving["tra"].backward()
    reached = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert reached and reached <= set(model.named_trainable_parameters("video"))
    assert any(".tsa." in n for n in reached) and any(".pata." in n for n in reached)
    # TSA/PATA of the last two decoder layers sit after the PASA maps TRA reads: no gradient can reach them
    assert not any(n.startswith(f"main_unet.unet.{block}.") for n in reached for block in model.tra_layer_names[-1:])


def test_overfits_a_tiny_vivid_dataset(shared_data, tmp_path, monkeypatch):
    """The classic single-batch check: one clip, no augmentation, the same noise every step of a phase; the
    image-step loss must fall to half within 40 steps (measured here: about 35). Decoded frames are memoised for
    the test (decoding is tested elsewhere; here it would cost more than the training)."""
    import functools

    import tryon_cli.data.dataset as dataset_module

    root = build_vivid(tmp_path / "ViViD", shared_data, frames=4, height=H * 2, width=W * 2)
    pairs = root / "upper_body" / "train_pairs.txt"
    pairs.write_text(pairs.read_text().splitlines()[0] + "\n")
    read_source = dataset_module.read_source
    decoded = functools.lru_cache(maxsize=None)(lambda *args: tuple(read_source(*args)))
    monkeypatch.setattr(dataset_module, "read_source", lambda *args: list(decoded(*args)))
    monkeypatch.setattr(trainer, "step_seeds", lambda seed, step, rank: (0, step % 2))
    config = _config(
        root,
        "train.max_steps=40",
        "train.learning_rate=1e-2",
        "augment.flip_p=0",
        "augment.keypoint_drop_p=0",
        "augment.garment_dropout=0",
        "checkpoint.every=1000",
    )
    trainer.train(config, tmp_path / "run")
    image = [m["mse"] for m in _metrics(tmp_path / "run") if m["phase"] == "image"]
    assert len(image) == 20
    assert np.mean(image[-3:]) <= 0.5 * np.mean(image[:3]), image


def _sigterm_at(monkeypatch, step: int) -> None:
    """SIGTERM arrives during step `step` (1-based), as a cluster's pre-emption would."""
    real = trainer.step_seeds

    def seeds(seed, index, rank):
        if index + 1 == step:
            signal.raise_signal(signal.SIGTERM)
        return real(seed, index, rank)

    monkeypatch.setattr(trainer, "step_seeds", seeds)


def test_sigterm_checkpoint_and_the_printed_resume_command_reproduce_an_uninterrupted_run(vivid, tmp_path, monkeypatch):
    runner = CliRunner()
    common = _train_command(vivid, 4, "checkpoint.every=100")
    validation = [
        "--set",
        "validation.every=4",
        "--set",
        "validation.frames=3",
        "--set",
        "validation.inference_steps=2",
    ]
    tensorboard = ["--set", "logging.tensorboard=true"]
    whole = runner.invoke(app, [*common, "--output", str(tmp_path / "whole"), *validation, *tensorboard])
    assert whole.exit_code == 0, whole.output
    assert any(p.stat().st_size > 0 for p in (tmp_path / "whole" / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (tmp_path / "whole" / "checkpoints").iterdir()) == ["4", "latest"]
    from tryon_cli.io import probe_video

    clip = probe_video(tmp_path / "whole" / "validation" / "4.mp4")  # target | agnostic | generated
    assert (clip.frame_count, clip.width, clip.height) == (3, 3 * W, H)

    with monkeypatch.context() as patch:
        _sigterm_at(patch, 2)
        cut = runner.invoke(app, [*common, "--output", str(tmp_path / "cut")])
    assert cut.exit_code == 0, cut.output
    assert len(_metrics(tmp_path / "cut")) == 2 and find_checkpoint(tmp_path / "cut").name == "2"
    hint = [line for line in cut.output.splitlines() if "resume with: " in line]
    assert len(hint) == 1, cut.output
    words = shlex.split(hint[0].split("resume with: ", 1)[1])
    assert words[:2] == ["dpidm", "train"] and words[-1] == "--resume"
    resumed = runner.invoke(app, words[1:])  # the printed command, as the user would paste it
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from" in resumed.output and find_checkpoint(tmp_path / "cut").name == "4"
    _assert_same_run(tmp_path / "whole", tmp_path / "cut")


def _assert_same_run(first_run: Path, second_run: Path) -> None:
    first, second = _metrics(first_run), _metrics(second_run)
    assert [m["step"] for m in second] == [1, 2, 3, 4] and [m["phase"] for m in second] == ["image", "video"] * 2
    for a, b in zip(first, second):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6, abs=1e-7) and a["tra"] == pytest.approx(
            b["tra"], rel=1e-6
        )
    a, b = (DPIDM.from_config("tiny") for _ in range(2))
    restore(a.delta, first_run / "checkpoints" / "4")
    restore(b.delta, second_run / "checkpoints" / "latest")
    for (name, p), q in zip(a.checkpoint_parameters().items(), b.checkpoint_parameters().values()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=name)


def test_kill_9_then_resume_reproduces_an_uninterrupted_run(vivid, tmp_path):
    """SIGKILL gives no chance to write anything: resume starts at the last periodic checkpoint (2) and redoes
    step 3, whose metrics line the killed run had already written. The run is a real process; a wrapper holds it
    inside step 4 so that the kill lands at a known point."""
    args = _train_command(vivid, 4, "checkpoint.every=2")
    whole = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    hold = (
        "import sys, time; import tryon_cli.training.trainer as t; real = t.step_seeds\n"
        "def seeds(seed, step, rank):\n"
        "    if step == 3: open(sys.argv[1], 'w').close(); time.sleep(600)\n"
        "    return real(seed, step, rank)\n"
        "t.step_seeds = seeds\n"
        "from tryon_cli.cli.main import app; app(sys.argv[2:])\n"
    )
    marker = tmp_path / "in-step-4"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", hold, str(marker), *args, "--output", str(tmp_path / "killed")], env=env
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the run never reached step 4"
    finally:
        child.kill()
        child.wait()
    assert [m["step"] for m in _metrics(tmp_path / "killed")] == [1, 2, 3]
    resumed = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "killed"), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    _assert_same_run(tmp_path / "whole", tmp_path / "killed")


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(vivid, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = objective.ldm_loss

    def nan_on_third(prediction, target):
        calls["n"] += prediction.device.type != "meta"  # the memory pre-flight's shape-only pass is not a step
        loss = real(prediction, target)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(objective, "ldm_loss", nan_on_third)
    with pytest.raises(trainer.NonFiniteLoss, match="step 3"):
        trainer.train(_config(vivid, "train.max_steps=6", "checkpoint.every=2"), tmp_path / "run")
    assert find_checkpoint(tmp_path / "run").name == "2"
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["2", "latest"]
    assert [m["step"] for m in _metrics(tmp_path / "run")] == [1, 2]


@pytest.mark.parametrize("trainable", ["paper", "all"])
def test_finished_checkpoint_loads_for_inference(vivid, tmp_path, trainable):
    """The checkpoint holds the trained weights; the tiny inference model (seed 0) has the same frozen base, or,
    trained whole (`train.trainable=all`), the trained base the checkpoint holds."""
    from tryon_cli.engines import build_engine

    config = _config(vivid, "train.max_steps=2", "train.learning_rate=1e-3", f"train.trainable={trainable}")
    model = trainer.build_model(config)
    last = trainer.train(config, tmp_path / "run", model=model).checkpoint
    assert (last / "config.json").is_file() and (last / "diffusion_pytorch_model.safetensors").is_file()
    assert (last / "base.safetensors").is_file() == (trainable == "all")
    engine = build_engine("tiny", checkpoint=last)
    assert not engine.untrained and str(last) in engine.description
    served = engine.model
    for (name, p), q in zip(model.state_dict().items(), served.state_dict().values()):
        assert torch.equal(p, q), name
    untrained = DPIDM.from_config("tiny", seed=TINY_BASE_SEED).main_unet.state_dict()
    assert any(not torch.equal(p, untrained[n]) for n, p in served.main_unet.state_dict().items())

    # ... and through the CLI: `dpidm tryon --model tiny --checkpoint` serves it, not the untrained model.
    out = tmp_path / "out.mp4"
    result = _tryon_example(last, out, "--frames", "0:4", "--steps", "1")
    assert result.exit_code == 0, result.output
    assert out.is_file() and "UNTRAINED" not in result.output + result.stderr


@pytest.mark.parametrize("variant", ["a", "b", "c", "d"])
def test_each_variant_trains_records_itself_and_runs_through_tryon(vivid, tmp_path, variant):
    """Table 4 rows: two steps each; the checkpoint says what it is (base, variant, training size and clip length,
    mask source, pose backend and keypoint set, version), only
    (d) has a TRA term, and `dpidm tryon` builds the checkpoint's own variant to run it."""
    from tryon_cli import __version__

    result = CliRunner().invoke(
        app,
        [*_train_command(vivid, 2), "--variant", variant, "--output", str(tmp_path / "run")],
    )
    assert result.exit_code == 0, result.output
    video = [m for m in _metrics(tmp_path / "run") if m["phase"] == "video"]
    assert len(video) == 1 and (video[0]["tra"] > 0) == (variant == "d"), video
    config = json.loads((tmp_path / "run" / "checkpoints" / "2" / "config.json").read_text())
    assert (
        config["base"],
        config["variant"],
        config["train_height"],
        config["train_width"],
        config["clip_length"],
        config["mask_source"],
        config["pose_backend"],
        config["pose_keypoints"],
        config["dpidm_version"],
    ) == ("tiny", variant, H, W, 4, "dpidm", "yolo", "body", __version__)
    out = tmp_path / "out.mp4"
    tryon = _tryon_example(tmp_path / "run" / "checkpoints" / "latest", out, "--frames", "0:3", "--steps", "1")
    assert tryon.exit_code == 0, tryon.output
    assert out.is_file()


def test_prepare_computes_vvt_masks_and_garment_landmarks(shared_data, tmp_path):
    root = build_vvt(tmp_path / "VVT", shared_data, frames=3)
    cache = root / "dpidm_prepared"
    import shutil

    shutil.rmtree(cache)  # what the download has: frames, keypoints, garments; nothing prepared
    result = CliRunner().invoke(app, ["train", "prepare", "--data", "vvt", "--root", str(root)])
    assert result.exit_code == 0, result.output
    masks = sorted((cache / "masks" / "lip_train_frames" / "4be21d0a1-n11").iterdir())
    assert len(masks) == 3 and len(list((cache / "garments").rglob("*.json"))) == 1
    sample = TryOnDataset(scan("vvt", root), root, H, W)[JointSampler([3], 1, 3, 0).batch(1)[0]]
    assert 0.02 < float(sample["mask"].mean()) < 0.8  # the computed mask covers the upper body, not all or nothing


def test_image_dataset_trains_image_steps_only(shared_data, tmp_path):
    from tests.test_data_fixtures import build_vitonhd

    root = build_vitonhd(tmp_path / "zalando-hd-resized", shared_data)
    config = load_config(overrides=[*SMALL, f"data.root={root}", "data.name=vitonhd", "train.max_steps=2"])
    trainer.train(config, tmp_path / "run")
    metrics = _metrics(tmp_path / "run")
    assert [m["phase"] for m in metrics] == ["image", "image"] and all(m["tra"] == 0 for m in metrics)


def test_config_defaults_are_the_papers_and_bad_input_is_one_line(tmp_path):
    config = load_config()
    assert (config.train.learning_rate, config.data.clip_length, config.data.height, config.data.width) == (
        2e-5,
        24,
        512,
        384,
    )
    assert (config.loss.tra_weight_video, config.loss.tra_weight_image, config.loss.tra_gammas) == (
        1e-3,
        0.0,
        [0.5, 0.5],
    )
    assert (config.augment.flip_p, config.augment.keypoint_drop_p, config.train.optimizer) == (0.5, 0.05, "adam")
    assert load_config(overrides=["train.learning_rate=1e-5", "data.clip_length=16"]).train.learning_rate == 1e-5
    tiny = load_config(overrides=["model=tiny"])  # the tiny model's CPU-sized clips, under the user's values
    assert (tiny.data.height, tiny.data.width, tiny.data.clip_length) == (128, 96, 8)
    assert load_config(overrides=["model=tiny", "data.height=64"]).data.height == 64
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("train:\n  batch_size: 4\n")
    assert load_config(yaml_file, ["train.batch_size=8"]).train.batch_size == 8  # the command line wins
    runner = CliRunner()
    for args, expected in (
        (["--set", "train.lr=1"], "unknown config key train.lr"),
        (["--set", "train.batch_size=many"], "train.batch_size wants a int"),
        (["--root", str(tmp_path / "nowhere")], f"expected the folder {tmp_path / 'nowhere'}"),
        (["--resume", "--root", str(tmp_path)], "no checkpoint to resume"),
    ):
        result = runner.invoke(
            app, ["train", "--data", "vivid", "--model", "tiny", "--output", str(tmp_path / "o"), *args]
        )
        assert result.exit_code == 2 and expected in result.output, result.output


def test_tryon_follows_what_the_checkpoint_was_trained_on(vivid, tmp_path, monkeypatch):
    """A checkpoint records its training size, clip length, masks and pose backend; `dpidm tryon` takes the size
    and the window from it, stops on another pose backend (one line naming both and the flag that allows it), and
    notes a model trained on the dataset's masks."""
    import shutil

    import tryon_cli.cli.tryon as tryon_cli

    last = trainer.train(_config(vivid, "train.max_steps=1"), tmp_path / "run").checkpoint
    ran = {}
    monkeypatch.setattr("tryon_cli.preprocess.human_pose.resolve_backend", lambda *args: "yolo")  # as without DWPose
    monkeypatch.setattr(tryon_cli, "_run", lambda engine, *args: ran.update(engine=engine, settings=args[4]))

    def tryon(checkpoint, *extra):
        ran.clear()
        return _tryon_example(checkpoint, tmp_path / "out.mp4", *extra)

    result = tryon(last)
    assert result.exit_code == 0, result.output
    settings, sampling = ran["settings"], ran["engine"].sampling
    assert (settings.height, settings.width, sampling.window, sampling.overlap) == (H, W, 4, 1)
    # The only note is the tiny base's "a test model" label: none about masks or the pose backend.
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert all("TEST model" in note for note in notes), result.output
    result = tryon(last, "--window", "6", "--height", "48")  # flags still win
    assert (ran["settings"].height, ran["engine"].sampling.window) == (48, 6)

    other = tmp_path / "other"
    shutil.copytree(last, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "pose_backend": "dwpose", "mask_source": "dataset"}))
    result = tryon(other)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and not ran, result.output
    assert "trained on dwpose poses" in lines[0] and "here is yolo" in lines[0]
    assert "--allow-other-pose-backend" in lines[0]
    result = tryon(other, "--allow-other-pose-backend")
    assert result.exit_code == 0 and ran, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    notes = [note for note in notes if "TEST model" not in note]
    assert len(notes) == 1 and "dataset's own agnostic masks" in notes[0]


@pytest.mark.slow
def test_prepare_then_train_end_to_end_records_what_it_trained_on(shared_data, tmp_path):
    """The README's CPU smoke test: `dpidm train prepare` (the packaged YOLO pose model, dpidm's masks) on a ViViD
    tree that ships masks, then `dpidm train --model tiny`; the checkpoint says dpidm masks, yolo body poses, the
    training size and clip length."""
    root = build_vivid(tmp_path / "ViViD", shared_data, frames=5, height=192, width=144, prepare=False)
    runner = CliRunner()
    prepared = runner.invoke(
        app, ["train", "prepare", "--data", "vivid", "--root", str(root), "--pose-backend", "yolo"]
    )
    assert prepared.exit_code == 0, prepared.output
    assert "computed 2 pose sequences, 2 mask sets" in prepared.output
    result = runner.invoke(app, [*_train_command(root, 1), "--output", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "checkpoints" / "1" / "config.json").read_text())
    facts = {k: config[k] for k in ("mask_source", "pose_backend", "pose_keypoints", "train_height", "clip_length")}
    assert facts == {
        "mask_source": "dpidm",
        "pose_backend": "yolo",
        "pose_keypoints": "body",
        "train_height": H,
        "clip_length": 4,
    }
