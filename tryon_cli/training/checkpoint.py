"""Checkpoints that lose nothing: trainable weights (the model's own safetensors format), optimiser, LR
scheduler, grad scaler, every RNG state of every process, the step and the data position.

Layout of `OUT/checkpoints/`:
  1000/                     a complete checkpoint (named by its step); `dpidm tryon --checkpoint` reads it
                            (config.json + weights)
    config.json, *.safetensors   written by `DPIDMDelta.save_checkpoint`
    trainer_state.json/.safetensors   optimiser, scheduler, scaler, step, data position (rank 0's copy: they are
                            replicated); tensors in safetensors, the rest JSON (`state_io`: no pickle)
    rng/rank<r>.json/.safetensors     Python, NumPy, torch CPU and CUDA generator states of process r
    training.yaml           the resolved config the run used
  latest                    names the newest complete checkpoint; `dpidm tryon --checkpoint RUN/checkpoints/latest`
                            and `--checkpoint RUN` follow it (`models.checkpoint.resolve_checkpoint`)

A checkpoint is written into a temporary folder beside its final name and renamed only once every process has
finished writing, so a crash, SIGKILL or full disk mid-write never leaves a half checkpoint that `--resume` picks.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tryon_cli.errors import InputError
from tryon_cli.models.checkpoint import LATEST, resolve_checkpoint
from tryon_cli.training.state_io import load_state, save_state

TRAINER_STATE = "trainer_state"


def checkpoint_name(step: int) -> str:
    return str(step)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(legacy=False), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def write_checkpoint(
    root: Path,
    step: int,
    save_weights: Callable[[Path], None],
    trainer_state: dict,
    extra_files: dict[str, str],
    rank: int = 0,
    barrier: Callable[[], None] = lambda: None,
    keep: int = 0,
) -> Path:
    """Write checkpoint `step` under `root` atomically; every process calls it (rank 0 writes the shared parts)."""
    final = root / checkpoint_name(step)
    staging = root / f".{checkpoint_name(step)}.partial"
    if rank == 0:
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "rng").mkdir(parents=True)
    barrier()
    save_state(rng_state(), staging / "rng" / f"rank{rank}")
    if rank == 0:
        save_weights(staging)
        save_state(trainer_state, staging / TRAINER_STATE)
        for name, text in extra_files.items():
            (staging / name).write_text(text)
    barrier()
    if rank == 0:
        _fsync_tree(staging)
        if final.exists():  # the same step written again (e.g. SIGTERM right after a periodic checkpoint)
            shutil.rmtree(final)
        os.replace(staging, final)
        pointer = root / f".{LATEST}.tmp"
        pointer.write_text(final.name + "\n")
        os.replace(pointer, root / LATEST)
        if keep > 0:
            for old in sorted(
                (p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
            )[:-keep]:
                shutil.rmtree(old)
    barrier()
    return final


def existing_checkpoints(output: Path) -> list[Path]:
    """The complete checkpoints of a run folder, oldest first."""
    root = Path(output) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def find_checkpoint(path: Path) -> Path:
    """A checkpoint folder from `path`: the folder itself, or a run's output / checkpoints folder (its latest)."""
    path = Path(path)
    for root in (path, path / "checkpoints"):
        if (root / LATEST).is_file():
            return resolve_checkpoint(root / LATEST).folder
    if (path / f"{TRAINER_STATE}.json").is_file():
        return path
    raise InputError(
        f"no checkpoint to resume at {path}: expected {path / 'checkpoints' / LATEST} or a checkpoint folder"
    )


def read_trainer_state(checkpoint: Path, rank: int) -> tuple[dict, dict]:
    """(trainer state, this process's RNG state) of a checkpoint written by `write_checkpoint`."""
    rng = checkpoint / "rng" / f"rank{rank}"
    if not rng.with_suffix(".json").is_file():  # resumed on more processes than it was written by: fresh streams
        rng = checkpoint / "rng" / "rank0"
    return load_state(checkpoint / TRAINER_STATE), load_state(rng)
