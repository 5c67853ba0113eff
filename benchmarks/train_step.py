"""Time and peak memory of one `dpidm train` step, set up as the trainer sets it up, next to the pre-flight's estimate.

The model has random weights (the cost does not depend on them) built from the configuration's model (`sd15` is
SD1.5's dimensions in the same diffusers classes the weights load into), stored as the trainer stores it
(`run_setup.prepare_for_training`: under mixed precision the frozen components in half precision, gradient
checkpointing as configured); the optimiser is the configuration's (`run_setup.make_optimizer`); each step is
autocast, the diffusion and TRA losses, backward, gradient clipping and the optimiser step, on synthetic batches of
the dataset's format (the figure is the model's, not the disk's). Each phase takes one untimed step first, so that
the kernels are loaded and Adam holds the moments of both phases, as in any run past its first two steps; the peak
is then reset and each phase's timed steps measured on their own.

    python benchmarks/train_step.py                     # tiny, at its training defaults, on the CPU
    python benchmarks/train_step.py --model sd15 --set train.mixed_precision=bf16 \\
        --set train.gradient_checkpointing=true         # the paper's step (512x384, T=24, batch 2): CUDA

Peak memory: `torch.cuda.max_memory_allocated` on CUDA (the CUDA context and the allocator's cache are not in it,
nor in the estimate); the process's max RSS on the CPU. One JSON line per phase; the last line is the JSON list.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from tryon_cli.models import DPIDM
from tryon_cli.training.config import load_config
from tryon_cli.training.memory import estimate, meta_batch
from tryon_cli.training.objective import diffusion_losses
from tryon_cli.training.run_setup import make_optimizer, prepare_for_training

GIB = 2**30
HALF = {"fp16": torch.float16, "bf16": torch.bfloat16}


def synthetic_batch(batch: int, frames: int, height: int, width: int, device) -> dict:
    """A batch of the dataset's format and shapes (`memory.meta_batch`), filled like a real one: pixels in
    [-1, 1], a repaint box over the middle, sparse pose maps."""
    generator = torch.Generator().manual_seed(0)
    out = meta_batch(batch, frames, height, width, device="cpu")
    out["pixel_values"] = torch.rand(out["pixel_values"].shape, generator=generator) * 2 - 1
    out["mask"][..., height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1
    out["agnostic_pixels"] = out["pixel_values"] * (1 - out["mask"])
    for key in ("human_pose_maps", "garment_pose_map"):
        out[key] = (torch.rand(out[key].shape, generator=generator) > 0.97).float()
    out["garment_pixels"] = torch.rand(out["garment_pixels"].shape, generator=generator) * 2 - 1
    return {k: v.to(device) for k, v in out.items()}


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux; the process's high-water mark


class Trainer:
    """The trainer's model, optimiser and step (`training.trainer`), without a dataset or an accelerator."""

    def __init__(self, config, device: torch.device):
        self.config, self.device = config, device
        self.half = HALF.get(config.train.mixed_precision)
        with device:  # weights drawn where they will live (seconds on a GPU, not minutes on its host's CPU)
            model = DPIDM.from_config(config.model, seed=0, variant=config.variant)
        self.params = prepare_for_training(model, config)
        self.optimizer = make_optimizer(config, self.params)
        self.model = model.train()

    def step(self, phase: str, data: dict, seed: int) -> None:
        model, opt = self.model, self.config.train
        model.set_trainable(phase)
        with torch.autocast(self.device.type, dtype=self.half, enabled=self.half is not None):
            losses = diffusion_losses(model, data, phase, self.config.loss, torch.Generator().manual_seed(seed))
        losses["loss"].backward()
        if opt.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_([p for p in self.params if p.requires_grad], opt.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def measure(config, device: torch.device, phases: list[str], steps: int) -> list[dict]:
    data = config.data
    trainer = Trainer(config, device)
    batches = {
        phase: synthetic_batch(
            config.train.batch_size, data.clip_length if phase == "video" else 1, data.height, data.width, device
        )
        for phase in phases
    }
    for phase in phases:  # warm-up: kernels loaded, Adam's moments of every phase allocated
        trainer.step(phase, batches[phase], seed=0)
    estimated = {m.phase: m for m in estimate(config, device.type)}
    rows = []
    for phase in phases:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for step in range(steps):
            began = time.perf_counter()
            trainer.step(phase, batches[phase], seed=1 + step)
            times.append(time.perf_counter() - began)
        peak, guess = peak_bytes(device), estimated[phase]
        rows.append(
            {
                "model": config.model,
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "phase": phase,
                "batch": config.train.batch_size,
                "frames": data.clip_length if phase == "video" else 1,
                "height": data.height,
                "width": data.width,
                "mixed_precision": config.train.mixed_precision,
                "gradient_checkpointing": config.train.gradient_checkpointing,
                "optimizer": config.train.optimizer,
                "steps_timed": steps,
                "seconds_per_step": round(sorted(times)[len(times) // 2], 3),  # the median
                "peak_gib": round(peak / GIB, 2),
                "peak_kind": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process max RSS",
                "estimate_gib": round(guess.total / GIB, 2),
                "estimate_parts_gib": {
                    k: round(getattr(guess, k) / GIB, 2) for k in ("weights", "optimizer", "activations", "process")
                },
                "measured_over_estimate": round(peak / guess.total, 3),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["tiny", "sd15"], default="tiny")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    parser.add_argument("--phases", default="image,video", help="comma-separated: image, video")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per phase (after one untimed)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    config = load_config(overrides=[f"model={args.model}", *args.set])
    try:
        rows = measure(config, torch.device(args.device), args.phases.split(","), args.steps)
    except torch.OutOfMemoryError as err:  # a figure too: the setting does not fit this device
        rows = [{"model": args.model, "overrides": args.set, "error": "out of memory", "detail": str(err)[:300]}]
        print(json.dumps(rows[0]), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
