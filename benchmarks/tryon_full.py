"""Speed and memory of the real-size model: `sd15` DPIDM at 512x384, 24-frame windows, 30 DDIM steps, guidance 1.5.

Times the part that dominates a try-on: the sliding-window DDIM loop (`DPIDMTryOnPipeline.__call__`, classifier-free
guidance as a batch of 2) plus VAE decoding, on synthetic conditions of the real shapes. Weights do not change the
cost, so the model is randomly initialised unless `--weights` points at the SD1.5 folders.

With `--clip`, also the whole DPIDM engine (`DPIDMEngine.generate`: VAE encoding of every frame, the garment branch,
the sliding windows over the clip, decoding) on a clip recorded from a real try-on: what `dpidm tryon` hands the
engine for the shipped example (its crops, masks, agnostic frames, poses and fitted garment), recorded on any
machine with `--record`, so that a GPU machine without the pose model or ffmpeg can run it. Pose, masks,
paste-back and writing are the CPU's part of a try-on and are not in this figure.

- On a GPU: every dtype (fp16, bf16) x attention backend (sdpa, and xformers when it runs) does one 24-frame window
  with all 30 steps; reports seconds per output frame of a long video and peak GPU memory.
- On the CPU: ONE DDIM step on ONE window (a full run would take hours), fp32, sdpa; the per-frame figure is
  extrapolated from that step and says so.

Seconds per output frame of a long video = (window-step time x steps) / (window - overlap) + decode time per frame:
each window advances the video by window - overlap frames. The floor to compare with: one SD1.5 U-Net step at
512x384 is 575 GFLOP, so 30 steps with guidance and the 24/16 window overlap cost about 75 TFLOP per output frame
(the issue's figure); an H100 does about 800 TFLOP/s in bf16, about 0.094 s per frame.

    python benchmarks/tryon_full.py                 # last line JSON
    python benchmarks/tryon_full.py --record examples/person.mp4 examples/garment_upper_00057_00.jpg example.clip
    python benchmarks/tryon_full.py --clip example.clip
"""

from __future__ import annotations

import argparse
import json
import lzma
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEIGHT, WIDTH, WINDOW, OVERLAP, STEPS, GUIDANCE = 512, 384, 24, 8, 30, 1.5
FLOOR_TFLOP_PER_FRAME, H100_BF16_TFLOPS = 75.0, 800.0


def synthetic_conditions(pipe, frames: int):
    """Conditions of the real shapes: agnostic latents, a repaint mask over the middle, a drawn pose."""
    import torch

    from tryon_cli.pipelines.dpidm_pipeline import VideoConditions

    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, 4, frames, HEIGHT // 8, WIDTH // 8, generator=generator).to(pipe.device, pipe.dtype)
    mask = torch.zeros(1, 1, frames, HEIGHT // 8, WIDTH // 8, dtype=torch.bool, device=pipe.device)
    mask[..., 10:50, 8:40] = True
    poses = torch.zeros(1, 3, frames, HEIGHT, WIDTH)
    poses[:, 0, :, 100:400, 180:200] = 1.0
    return VideoConditions(latents, mask, lambda window: poses[:, :, window])


class RecordingEngine:
    """An engine that keeps what the application hands it (the crop clip and the fitted garment) and returns each
    crop unchanged."""

    name, untrained = "record", True

    def __init__(self):
        self.recorded = None

    def metadata(self) -> dict:
        return {}

    def generate(self, clip, garment, progress):
        frames = list(clip.frames())
        self.recorded = RecordedClip(clip.height, clip.width, clip.fps, frames, clip.poses(), garment)
        for frame in frames:
            yield frame.source


@dataclass
class RecordedClip:
    """A crop clip held in memory (`engines.base.CropClip`), with the garment that came with it."""

    height: int
    width: int
    fps: float
    frame_list: list
    pose_list: list
    garment: object

    @property
    def num_frames(self) -> int:
        return len(self.frame_list)

    def frames(self):
        return iter(self.frame_list)

    def poses(self):
        return self.pose_list


def record(video: Path, garment: Path, out: Path, settings=None) -> None:
    """Run the application's try-on of `video` in `garment` (at 512x384 unless `settings`, a `TryOnSettings`, say
    otherwise) and save what it hands the engine."""
    import tempfile

    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    engine = RecordingEngine()
    with tempfile.TemporaryDirectory() as scratch:
        run_tryon(
            engine, video, garment, Path(scratch) / "out.mp4", settings or TryOnSettings(height=HEIGHT, width=WIDTH)
        )
    with lzma.open(out, "wb") as file:  # a file this benchmark writes and reads: pickle is safe for it
        pickle.dump(engine.recorded, file)
    print(f"recorded {engine.recorded.num_frames} frames of {video} in {garment} to {out}", flush=True)


def load_clip(path: Path) -> RecordedClip:
    """A clip saved by `record`."""
    with lzma.open(path, "rb") as file:
        return pickle.load(file)


def measure_engine(engine, clip: RecordedClip) -> dict:
    """The whole DPIDM engine over a recorded clip: seconds per frame and peak GPU memory."""
    import torch

    from tryon_cli.progress import NullProgress

    cuda = engine.pipeline.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    count = sum(1 for _ in engine.generate(clip, clip.garment, NullProgress()))
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "clip_frames": count,
        "clip_seconds": round(seconds, 2),
        "clip_seconds_per_frame": round(seconds / count, 4),
        "clip_peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }


def measure(pipe, steps: int) -> dict:
    import torch

    from tryon_cli.models.vae import decode_latents
    from tryon_cli.pipelines.sliding_window import window_schedule

    cuda = pipe.device.type == "cuda"
    conditions = synthetic_conditions(pipe, WINDOW)
    garment_pixels = torch.rand(1, 3, HEIGHT, WIDTH, device=pipe.device, dtype=pipe.dtype) * 2 - 1
    garment_pose = torch.zeros(1, 3, HEIGHT, WIDTH, device=pipe.device, dtype=pipe.dtype)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        garment = pipe.model.garment_encoder.encode_for_guidance(garment_pixels, garment_pose)
        sync()
        started = time.perf_counter()
        latents = pipe(
            conditions,
            garment,
            steps=steps,
            guidance=GUIDANCE,
            seed=0,
            windows=window_schedule(WINDOW, WINDOW, OVERLAP),
        )
        sync()
        denoise_s = time.perf_counter() - started
        started = time.perf_counter()
        decode_latents(pipe.model.vae, latents.to(pipe.dtype))
        sync()
        decode_s = time.perf_counter() - started
    step_s = denoise_s / steps
    per_frame = step_s * STEPS / (WINDOW - OVERLAP) + decode_s / WINDOW
    return {
        "steps_run": steps,
        "seconds_per_window_step": round(step_s, 4),
        "decode_seconds_per_frame": round(decode_s / WINDOW, 4),
        "seconds_per_output_frame": round(per_frame, 4),
        "floor_seconds_per_frame_h100_bf16": round(FLOOR_TFLOP_PER_FRAME / H100_BF16_TFLOPS, 4),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=None, help="SD1.5 weights root (default: random init)")
    parser.add_argument("--clip", type=Path, default=None, help="a clip recorded by --record: time the engine on it")
    parser.add_argument("--record", type=Path, nargs=3, metavar=("VIDEO", "GARMENT", "CLIP"), default=None)
    args = parser.parse_args()
    from tryon_cli.offline import apply_offline_defaults

    apply_offline_defaults()
    if args.record:
        record(*args.record)
        return
    import torch

    from tryon_cli.engines import use_attention
    from tryon_cli.engines.dpidm import DPIDMEngine
    from tryon_cli.errors import InputError
    from tryon_cli.models.dpidm import DPIDM

    clip = load_clip(args.clip) if args.clip else None
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
        attentions = ["sdpa", "xformers"]
        steps = STEPS
    else:
        dtypes, attentions, steps = {"fp32": torch.float32}, ["sdpa"], 1
        print(
            "cpu: running ONE DDIM step on ONE 24-frame window (fp32, sdpa); per-frame figures are extrapolated "
            "to 30 steps",
            flush=True,
        )
    started = time.perf_counter()
    if args.weights:
        model = DPIDM.from_pretrained(args.weights)
    else:
        with device:  # weights drawn where they will live
            model = DPIDM.from_config("sd15", seed=0)
    print(
        f"model built in {time.perf_counter() - started:.1f} s "
        f"({'weights from ' + str(args.weights) if args.weights else 'random weights'})",
        flush=True,
    )
    results = []
    for dtype_name, dtype in dtypes.items():
        engine = DPIDMEngine(model, device=device, dtype=dtype)
        for attention in attentions:
            try:
                use_attention(model, attention, device)
            except InputError as err:
                print(f"skipped {dtype_name} {attention}: {err}", flush=True)
                continue
            if cuda:
                measure(engine.pipeline, 1)  # warm-up: kernels loaded and tuned outside the timed runs
            row = {
                "device": torch.cuda.get_device_name() if cuda else "cpu",
                "dtype": dtype_name,
                "attention": attention,
                **measure(engine.pipeline, steps),
            }
            if clip is not None and cuda:
                row.update(measure_engine(engine, clip))
            print(json.dumps(row), flush=True)
            results.append(row)
    print(
        json.dumps(
            {
                "height": HEIGHT,
                "width": WIDTH,
                "window": WINDOW,
                "overlap": OVERLAP,
                "steps": STEPS,
                "guidance": GUIDANCE,
                "cpu_single_step": not cuda,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
