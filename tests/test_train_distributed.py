"""Two processes on the CPU take the step one process would take on both processes' batches together.

`dpidm train` is started on two processes with `torch.distributed.run` (what `accelerate launch --multi_gpu` runs
underneath) and ACCELERATE_USE_CPU=1, which `Accelerator` turns into its multi-CPU (gloo) mode. `accelerate launch
--cpu --num_processes 2` itself starts ONE process in accelerate 1.x unless mpirun is available, so it cannot test
two replicas here.

The reference is computed in this process without any collective: the batch and the noise each rank must draw
(its own sampler stream and seeds), the mean of the two gradients, one Adam step. What the distributed path owns
is exactly what would make the two differ: ranks that draw the same batch or the same noise, a gradient summed
instead of averaged, a parameter left out of the all-reduce. Adam's first step is lr * g / (|g| + eps); with the
default eps = 1e-8 that is lr * sign(g) and hides the gradient's scale, so the test sets eps = lr = 1 (the update is
then g / (|g| + 1), which tells a sum from a mean) and turns clipping off (it would rescale both alike).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from tests.test_data_fixtures import build_vivid
from tryon_cli.models.checkpoint import restore
from tryon_cli.training.config import load_config
from tryon_cli.training.objective import diffusion_losses
from tryon_cli.training.run_setup import build_model
from tryon_cli.training.trainer import _set_up, step_seeds

WORLD = 2
SETTINGS = {
    "data.name": "vivid",
    "model": "tiny",
    "train.max_steps": "1",
    "train.batch_size": "1",
    "data.height": "32",
    "data.width": "24",
    "data.clip_length": "4",
    "data.num_workers": "0",
    "logging.tensorboard": "false",
    "train.learning_rate": "1.0",
    "train.adam_epsilon": "1.0",
    "train.max_grad_norm": "0",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_on_two_processes(root: Path, output: Path) -> None:
    dpidm = Path(sys.executable).with_name("dpidm")
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(WORLD)]
    command = [*launch, "--master_port", str(_free_port()), str(dpidm), "train", "--root", str(root)]
    command += ["--output", str(output), *(w for k, v in SETTINGS.items() for w in ("--set", f"{k}={v}"))]
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


class _OneCPUProcess:
    """What `_set_up` asks of an `Accelerator`, for one process on the CPU. A real one here would fix accelerate's
    process-wide state (device, mixed precision) for every later test in this pytest process."""

    process_index, device, mixed_precision = 0, torch.device("cpu"), "no"

    @staticmethod
    def prepare(optimizer):
        return optimizer


def _one_process_reference(config, output: Path) -> dict[str, torch.Tensor]:
    """The trainable weights after step 1, from each rank's own batch and noise and the mean of their gradients."""
    run = _set_up(config, output, _OneCPUProcess(), None)
    phase = run.sampler.phase(0)
    run.model.set_trainable(phase)
    for rank in range(WORLD):
        run.sampler.rank = rank
        global_seed, noise_seed = step_seeds(config.train.seed, 0, rank)
        torch.manual_seed(global_seed)
        batch = default_collate([run.dataset[key] for key in run.sampler.batch(0)])
        losses = diffusion_losses(run.model, batch, phase, config.loss, torch.Generator().manual_seed(noise_seed))
        (losses["loss"] / WORLD).backward()
    run.optimizer.step()
    return {name: p.detach().clone() for name, p in run.model.checkpoint_parameters().items()}


@pytest.mark.slow
def test_two_processes_take_the_mean_gradient_step_of_their_own_batches(shared_data, tmp_path):
    root = build_vivid(tmp_path / "ViViD", shared_data, frames=4, height=64, width=48)
    _train_on_two_processes(root, tmp_path / "run")

    config = load_config(None, [f"{k}={v}" for k, v in {**SETTINGS, "data.root": root}.items()])
    before = {name: p.detach().clone() for name, p in build_model(config).checkpoint_parameters().items()}
    expected = _one_process_reference(config, tmp_path / "reference")
    trained = build_model(config)
    restore(trained.delta, tmp_path / "run" / "checkpoints" / "1")
    got = {name: p.detach() for name, p in trained.checkpoint_parameters().items()}

    moved = [name for name in expected if not torch.equal(expected[name], before[name])]
    assert moved, "the reference step changed nothing: the test would not see a wrong gradient"
    for name in expected:
        step, expected_step = got[name] - before[name], expected[name] - before[name]
        torch.testing.assert_close(step, expected_step, rtol=1e-3, atol=1e-6, msg=lambda m: f"{name}: {m}")

    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1]  # one line per step, from the main process only
