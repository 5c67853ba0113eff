"""The run folder: checked before any work (writable, not an earlier run unless resuming), and the step log
written into it (metrics.jsonl, TensorBoard)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import InputError
from tryon_cli.training import checkpoint as ckpt


@dataclass
class StepRecord:
    """One training step's figures, as the run log writes them."""

    step: int
    phase: str
    loss: float
    mse: float
    tra: float
    lr: float
    samples_per_s: float
    seconds: float


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_output(output: Path, resume: bool) -> None:
    """The output folder is writable, and holds no earlier run's checkpoints unless resuming it."""
    existing = output
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"output {output}: {existing} is not a folder")
    try:
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as err:
        raise InputError(f"output {output}: cannot write in {existing} ({err.strerror})") from None
    found = ckpt.existing_checkpoints(output)
    if found and not resume:
        raise InputError(
            f"{output} already holds a run (checkpoint {found[-1].name}): add --resume to continue it, "
            "or give a new --output folder"
        )


def _trim_metrics(path: Path, last_step: int) -> None:
    """Drop metric lines after `last_step` (a run killed after its last checkpoint logged steps that resume redoes)."""
    if path.is_file():
        lines = [
            line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= last_step
        ]
        path.write_text("".join(line + "\n" for line in lines))


class RunLog:
    """metrics.jsonl (one line per step) and TensorBoard, written by the main process only."""

    def __init__(self, output: Path, start: int, tensorboard: bool, every: int, main: bool):
        """Continue at step `start`: lines of later steps (logged after the last checkpoint) are dropped."""
        self.every = every
        self.metrics = self.writer = None
        if not main:
            return
        _trim_metrics(output / "metrics.jsonl", start)
        self.metrics = open(output / "metrics.jsonl", "a")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(output / "tensorboard"))

    def write(self, record: StepRecord) -> None:
        if self.metrics is None:
            return
        self.metrics.write(json.dumps(record.__dict__) + "\n")
        self.metrics.flush()
        if self.writer is not None and record.step % self.every == 0:
            for key in ("loss", "mse", "tra", "lr", "samples_per_s"):
                self.writer.add_scalar(f"train/{key}", getattr(record, key), record.step)
            self.writer.add_scalar(f"train/loss_{record.phase}", record.loss, record.step)

    def close(self) -> None:
        for handle in (self.metrics, self.writer):
            if handle is not None:
                handle.close()
