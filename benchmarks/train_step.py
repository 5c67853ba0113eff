"""Training-step throughput and peak memory of `dpidm train`'s objective (forward + backward + Adam step).

Runs each phase (image: B single frames; video: B clips of T frames with TRA) on synthetic batches of the
dataset's format, so the number is the model's, not the disk's. On the CPU: the tiny model. With CUDA: also the
SD1.5-sized model (random weights: the cost does not depend on them) at 512x384, 24 frames, batch 2, with and
without gradient checkpointing, in bf16 autocast.

    python benchmarks/train_step.py                      # tiny on the CPU (+ sd15 when CUDA is present)
    python benchmarks/train_step.py --config tiny --height 64 --width 48 --frames 8 --steps 5

Prints one JSON line per measurement; the last line is a JSON list of all of them.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from tryon_cli.models import DPIDM
from tryon_cli.training.config import load_config
from tryon_cli.training.objective import diffusion_losses


def synthetic_batch(batch: int, frames: int, height: int, width: int, device) -> dict:
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(batch, 3, frames, height, width, generator=generator) * 2 - 1
    mask = torch.zeros(batch, 1, frames, height, width)
    mask[..., height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1
    out = {
        "pixel_values": pixels,
        "mask": mask,
        "agnostic_pixels": pixels * (1 - mask),
        "human_pose_maps": (torch.rand(batch, 3, frames, height, width, generator=generator) > 0.97).float(),
        "garment_pixels": torch.rand(batch, 3, height, width, generator=generator) * 2 - 1,
        "garment_pose_map": (torch.rand(batch, 3, height, width, generator=generator) > 0.97).float(),
        "drop_garment": torch.zeros(batch, dtype=torch.bool),
    }
    return {k: v.to(device) for k, v in out.items()}


def peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; process-wide high-water mark


def measure(
    model,
    phase: str,
    batch: int,
    frames: int,
    height: int,
    width: int,
    steps: int,
    device,
    checkpointing: bool,
    autocast_dtype,
) -> dict:
    loss_config = load_config().loss
    model.set_trainable(phase)
    if checkpointing:
        model.enable_gradient_checkpointing()
    else:
        model.disable_gradient_checkpointing()
    optimizer = torch.optim.Adam(model.trainable_parameters(phase), lr=2e-5)
    data = synthetic_batch(batch, frames if phase == "video" else 1, height, width, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(steps + 1):  # the first step warms up (allocations, kernels) and is not counted
        began = time.perf_counter()
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            losses = diffusion_losses(model, data, phase, loss_config, torch.Generator().manual_seed(step))
        losses["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step:
            times.append(time.perf_counter() - began)
    seconds = sum(times) / len(times)
    return {
        "config": model.config.name,
        "device": str(device),
        "phase": phase,
        "batch": batch,
        "frames": frames if phase == "video" else 1,
        "height": height,
        "width": width,
        "gradient_checkpointing": checkpointing,
        "autocast": str(autocast_dtype).replace("torch.", "") if autocast_dtype else "fp32",
        "seconds_per_step": round(seconds, 4),
        "samples_per_s": round(batch / seconds, 3),
        "frames_per_s": round(batch * (frames if phase == "video" else 1) / seconds, 3),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "peak_memory_kind": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process max RSS",
        "cpu_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["tiny", "sd15"], default=None, help="default: tiny, and sd15 with CUDA")
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    runs = []
    if args.config in (None, "tiny"):
        runs.append(
            (
                "tiny",
                torch.device("cpu"),
                args.batch or 2,
                args.frames or 8,
                args.height or 64,
                args.width or 48,
                [False],
                None,
            )
        )
    if args.config == "sd15" or (args.config is None and torch.cuda.is_available()):
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if device.type == "cuda" else None
        runs.append(
            (
                "sd15",
                device,
                args.batch or 2,
                args.frames or 24,
                args.height or 512,
                args.width or 384,
                [False, True],
                dtype,
            )
        )
    if not torch.cuda.is_available():
        print(
            "# no CUDA device: sd15 is not measured (pass --config sd15 to run it on the CPU, very slowly)", flush=True
        )

    results = []
    for name, device, batch, frames, height, width, checkpointing_options, dtype in runs:
        torch.manual_seed(0)
        model = DPIDM.from_config(name).to(device).train()
        for checkpointing in checkpointing_options:
            for phase in ("image", "video"):
                try:
                    result = measure(
                        model, phase, batch, frames, height, width, args.steps, device, checkpointing, dtype
                    )
                except torch.OutOfMemoryError:
                    result = {
                        "config": name,
                        "phase": phase,
                        "gradient_checkpointing": checkpointing,
                        "error": "out of memory",
                    }
                    torch.cuda.empty_cache()
                print(json.dumps(result), flush=True)
                results.append(result)
        del model
    print(json.dumps(results))


if __name__ == "__main__":
    main()
