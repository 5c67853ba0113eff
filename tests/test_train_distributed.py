"""Two processes on the CPU: each draws its own batches, the gradients are averaged, and both replicas hold
identical weights when the checkpoint is written.

The processes are started with `torch.distributed.run` (what `accelerate launch --multi_gpu` runs underneath) and
ACCELERATE_USE_CPU=1, which `Accelerator` turns into its multi-CPU (gloo) mode. `accelerate launch --cpu
--num_processes 2` itself starts ONE process in accelerate 1.x unless mpirun is available (`--mpirun_hostfile`),
so it cannot test two replicas here.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from tests.test_data_fixtures import build_vivid
from tryon_cli.training.state_io import load_state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_in_sync_and_write_one_checkpoint(shared_data, tmp_path):
    root = build_vivid(tmp_path / "ViViD", shared_data, frames=4, height=64, width=48)
    dpidm = Path(sys.executable).with_name("dpidm")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        str(dpidm),
        "train",
        "--data",
        "vivid",
        "--root",
        str(root),
        "--model",
        "tiny",
        "--max-steps",
        "2",
        "--output",
        str(tmp_path / "run"),
        "--batch-size",
        "1",
        "--set",
        "data.height=32",
        "--set",
        "data.width=24",
        "--set",
        "data.clip_length=4",
        "--set",
        "data.num_workers=0",
        "--set",
        "logging.tensorboard=false",
        "--set",
        "train.learning_rate=1e-3",
    ]
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["2", "latest"]
    assert sorted(p.name for p in (checkpoints / "2" / "rng").iterdir()) == [
        "rank0.json",
        "rank0.safetensors",
        "rank1.json",
        "rank1.safetensors",
    ]
    state = load_state(checkpoints / "2" / "trainer_state")
    fingerprints = state["replica_fingerprints"]
    assert len(fingerprints) == 2 and fingerprints[0] == fingerprints[1]
    assert state["data_position"]["world_size"] == 2
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]  # one line per step, from the main process only
    # the two ranks drew different data: their RNG states at the checkpoint differ
    rank0, rank1 = (load_state(checkpoints / "2" / "rng" / f"rank{r}") for r in (0, 1))
    assert not torch.equal(rank0["torch"], rank1["torch"])
