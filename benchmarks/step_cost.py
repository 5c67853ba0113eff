"""Cost of one denoising step: DPIDM's main U-Net against the plain diffusers SD1.5 inpainting U-Net.

Both run on the same window: latent 64x48 (512x384 pixels) and T frames (2 on a CPU, 16 on a GPU by default);
the plain U-Net sees the T frames as a batch. DPIDM runs everything a video step runs: pose encoder, PASA over
human + garment tokens, TSA, cross-attention, PATA. The garment bank is already filled (it is computed once per
video, not per step), here with random tensors of the real shapes: values do not change the cost.

Measured: FLOPs (torch's FlopCounterMode on the meta device, where it also counts scaled-dot-product attention;
on CPU tensors it counts 0 for it), wall time (median of --repeats, the two models alternating so that both see
the same machine load), and peak memory (CUDA: peak allocated during the step; CPU: peak resident memory, VmHWM,
of a fresh process that builds the U-Net and runs one step, so it includes the weights). Random weights: the
cost does not depend on them. Last line: JSON with flop_ratio, time_ratio and time_per_flop_ratio
(= time_ratio / flop_ratio).

    nice python benchmarks/step_cost.py                     # CPU, 2 frames, sd15 dimensions
    python benchmarks/step_cost.py --device cuda --frames 16 --dtype float16
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
from diffusers import UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode

from tryon_cli.models.configs import get_config
from tryon_cli.models.delta import new_delta
from tryon_cli.models.garment_bank import GarmentConditions
from tryon_cli.models.main_unet import MainUNet
from tryon_cli.models.pose_encoder import level_grids

CPU_MEMORY = "peak resident memory (VmHWM) of a fresh process building the U-Net and running one step"


def build(kind: str, config_name: str, device, dtype) -> torch.nn.Module:
    config = get_config(config_name)
    with torch.device(device):
        unet = UNet2DConditionModel(**config.main_unet)
        model = MainUNet(unet, new_delta(config, config_name, {})) if kind == "dpidm" else unet
    # (float32 is already the construction dtype; diffusers warns on a no-op cast)
    return (model if dtype == torch.float32 else model.to(dtype)).eval()


def inputs(kind: str, model, frames: int, height: int, width: int, device, dtype) -> tuple[tuple, dict]:
    """Positional and keyword arguments of one step, for the plain U-Net or DPIDM's main U-Net."""
    make = lambda *shape: torch.rand(*shape, device=device, dtype=dtype)
    unet = model.unet if kind == "dpidm" else model
    context_dim = unet.config.cross_attention_dim
    timestep = torch.tensor([500], device=device)
    if kind == "plain":
        return (make(frames, 9, height, width), timestep.expand(frames)), {
            "encoder_hidden_states": make(frames, 1, context_dim)
        }
    grids = level_grids(height, width, model.levels)
    bank = {}
    for name in model.block_names:
        block = unet.get_submodule(name)
        h, w = grids[block.level]
        bank[name] = make(1, h * w, block.attn1.query_dim)
    pose = [make(1, h * w, model.pose_encoder.out_channels) for h, w in grids]
    garment = GarmentConditions(image_embeds=make(1, 1, context_dim), features=bank, pose=pose)
    return (make(1, 9, frames, height, width), timestep), {
        "garment": garment,
        "human_pose_maps": make(1, 3, frames, height * 8, width * 8),
        "use_temporal": True,
    }


def count_flops(kind: str, args) -> int:
    model = build(kind, args.config, "meta", getattr(torch, args.dtype))
    positional, keywords = inputs(kind, model, args.frames, args.height, args.width, "meta", getattr(torch, args.dtype))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*positional, **keywords)
    return counter.get_total_flops()


def peak_memory_child(kind: str, args) -> int:
    """Peak RSS (bytes) of this process after building `kind` and running one step (run in a fresh process)."""
    dtype = getattr(torch, args.dtype)
    model = build(kind, args.config, args.device, dtype)
    positional, keywords = inputs(kind, model, args.frames, args.height, args.width, args.device, dtype)
    with torch.no_grad():
        model(*positional, **keywords)
    return peak_resident_bytes()


def peak_resident_bytes() -> int:
    """This process's peak resident memory so far (bytes).

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec from the parent, which may hold models."""
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return int(status["VmHWM"].split()[0]) * 1024


def peak_memory_cpu(kind: str, args) -> int:
    command = [sys.executable, __file__, "--memory-child", kind, *sys.argv[1:]]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=None, help="window length (default 2 on CPU, 16 on GPU)")
    parser.add_argument("--height", type=int, default=64, help="latent height (image height / 8)")
    parser.add_argument("--width", type=int, default=48, help="latent width (image width / 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per model (after one warm-up)")
    parser.add_argument("--config", default="sd15", choices=["sd15", "tiny"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--memory-child", choices=["plain", "dpidm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.frames is None:
        args.frames = 16 if args.device.startswith("cuda") else 2
    if args.memory_child:
        print(peak_memory_child(args.memory_child, args))
        return

    kinds = ("plain", "dpidm")
    flops = {kind: count_flops(kind, args) for kind in kinds}
    for kind in kinds:
        print(f"{kind}: {flops[kind] / 1e9:.1f} GFLOP", flush=True)

    dtype = getattr(torch, args.dtype)
    cuda = args.device.startswith("cuda")
    models = {kind: build(kind, args.config, args.device, dtype) for kind in kinds}
    step_inputs = {
        kind: inputs(kind, models[kind], args.frames, args.height, args.width, args.device, dtype) for kind in kinds
    }
    times = {kind: [] for kind in kinds}
    peaks = {}

    def step(kind: str) -> float:
        positional, keywords = step_inputs[kind]
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            models[kind](*positional, **keywords)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    for kind in kinds:  # warm-up (and the CUDA peak, measured on its own)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        step(kind)
        if cuda:
            peaks[kind] = torch.cuda.max_memory_allocated() - base
    for repeat in range(args.repeats):
        for kind in kinds:
            times[kind].append(step(kind))
            print(f"{kind} step {repeat + 1}/{args.repeats}: {times[kind][-1]:.2f} s", flush=True)
    if not cuda:
        del models, step_inputs
        peaks = {kind: peak_memory_cpu(kind, args) for kind in kinds}

    median = {kind: statistics.median(times[kind]) for kind in kinds}
    flop_ratio = flops["dpidm"] / flops["plain"]
    time_ratio = median["dpidm"] / median["plain"]
    result = {
        "device": args.device if not cuda else torch.cuda.get_device_name(),
        "config": args.config,
        "dtype": args.dtype,
        "frames": args.frames,
        "latent": [args.height, args.width],
        "threads": torch.get_num_threads(),
        "plain_gflop": round(flops["plain"] / 1e9, 1),
        "dpidm_gflop": round(flops["dpidm"] / 1e9, 1),
        "plain_time_s": round(median["plain"], 3),
        "dpidm_time_s": round(median["dpidm"], 3),
        "plain_times_s": [round(t, 3) for t in times["plain"]],
        "dpidm_times_s": [round(t, 3) for t in times["dpidm"]],
        "memory": "peak allocated during the step" if cuda else CPU_MEMORY,
        "plain_peak_mib": round(peaks["plain"] / 2**20),
        "dpidm_peak_mib": round(peaks["dpidm"] / 2**20),
        "flop_ratio": round(flop_ratio, 4),
        "time_ratio": round(time_ratio, 4),
        "time_per_flop_ratio": round(time_ratio / flop_ratio, 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
