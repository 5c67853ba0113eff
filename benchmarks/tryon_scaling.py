"""How `dpidm tryon` scales with video length.

Short case (default): tiny model on the CPU at its 128x96, one real clip cut to 48, 96 and 192 frames. For each
length a fresh Python process runs the whole pipeline (pose with an empty cache, masks, garment, sliding-window
DDIM, decoding, paste-back, writing) and reports its wall time, its peak RSS and how many times the garment U-Net
ran. Linear time means time_ratio_4x (t192 / t48) near 4 (target <= 4.4); streaming means flat memory,
rss_ratio_4x near 1 (target <= 1.15); the garment branch runs once per video (target 1).

Long case (`--long`, issue 13): the real model size 512x384, 1 DDIM step, tiny weights, the 1080x1920 dancer clip
looped to 240 and 960 frames (`--lengths`); peak RSS of each, the fitted bytes per frame (slope) and the peak
extrapolated to 18,000 frames (10 minutes at 30 fps; target < 4 GB). `--denoiser stand-in` (the default for
--long) replaces the U-Net by the identity (`engines.passthrough`): the U-Net's memory is per window, the same
at any length, and on a 2-core CPU it costs about 48 s per 24-frame window-step (60 windows for 960 frames);
everything else (pose, masks, crops, VAE, whole-clip latents, paste-back, writing) is real. `--denoiser tiny`
runs the tiny U-Net.

    python benchmarks/tryon_scaling.py            # prints one line per length, last line JSON
    python benchmarks/tryon_scaling.py --long     # the same for 240 and 960 frames at 512x384
    python benchmarks/tryon_scaling.py --long --lengths 240 4320   # the fit and the 3-minute 1080p run in one

Measured here (2 cores, other work beside it): 240 frames 233 s / 1366 MiB, 4,320 frames 6440 s / 1615 MiB,
64,050 bytes per frame, 2.39 GiB extrapolated to 18,000 frames; most of the long run's time is pasting and
encoding the 1080x1920 frames.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DPIDM_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIP = DATA / "3dvton/videos/1046043_detail.mp4"
GARMENT = DATA / "3dvton/cloths/1046602_in_xl.jpg"
LENGTHS = (48, 96, 192)
LONG_CLIP = DATA / "musepose/dance.mp4"
LONG_LENGTHS = (240, 960)
TEN_MINUTES = 18_000  # frames at 30 fps


def child(video: Path, output: Path, long: bool, denoiser: str) -> None:
    """One measured run, in its own process; prints its figures as JSON."""
    sys.path.insert(0, str(REPO))
    from tryon_cli.offline import apply_offline_defaults

    apply_offline_defaults()
    import torch

    from tryon_cli.engines import build_engine
    from tryon_cli.engines.dpidm_sampling import DPIDMSampling
    from tryon_cli.pipelines.choices import MODEL_DEFAULTS
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    torch.set_num_threads(2)
    started = time.perf_counter()
    defaults = {"steps": 1, "height": 512, "width": 384} if long else MODEL_DEFAULTS["tiny"]
    engine = build_engine("tiny", sampling=DPIDMSampling(steps=defaults["steps"], seed=0))
    if denoiser == "stand-in":
        from tryon_cli.engines.passthrough import PassthroughEngine

        engine = PassthroughEngine(
            engine.model,
            sampling=engine.sampling,
            untrained=True,
            description="tiny DPIDM VAE, identity denoiser (stand-in)",
        )
    calls = []
    engine.model.garment_unet.register_forward_pre_hook(lambda *_: calls.append(1))
    run_tryon(
        engine,
        video,
        GARMENT,
        output,
        TryOnSettings(category="dress", height=defaults["height"], width=defaults["width"]),
    )
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "garment_unet_calls": len(calls)}))


def cut(source: Path, frames: int, target: Path) -> None:
    """The first `frames` frames of `source`, looped as often as needed, re-encoded without audio."""
    from tryon_cli.io.ffmpeg import run_ffmpeg

    result = run_ffmpeg(
        "-v",
        "error",
        "-stream_loop",
        "-1",
        "-i",
        str(source),
        "-frames:v",
        str(frames),
        "-c:v",
        "libx264",
        "-crf",
        "12",
        "-an",
        "-y",
        str(target),
    )
    if result.returncode != 0:
        raise SystemExit(f"cannot cut {source}: {result.stderr}")


def measure(clip: Path, lengths: list[int], long: bool, denoiser: str) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="dpidm-bench-") as folder:
        folder = Path(folder)
        for frames in lengths:
            video = folder / f"clip{frames}.mp4"
            cut(clip, frames, video)
            # An empty pose cache per run: each length pays for its own pose estimation.
            env = {**os.environ, "DPIDM_CACHE": str(folder / f"cache{frames}")}
            command = [
                sys.executable,
                __file__,
                "--child",
                str(video),
                str(folder / f"out{frames}.mp4"),
                "--denoiser",
                denoiser,
                *(["--long"] if long else []),
            ]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"run on {frames} frames failed:\n{out.stderr[-3000:]}")
            results[frames] = r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{frames:5d} frames: {r['seconds']:8.1f} s  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
                f"garment U-Net calls {r['garment_unet_calls']}",
                flush=True,
            )
    return results


def long_summary(results: dict, lengths: list[int], denoiser: str) -> dict:
    summary = {
        "case": "long",
        "model": "tiny",
        "denoiser": denoiser,
        "device": "cpu",
        "clip": LONG_CLIP.name,
        "source_size": "1080x1920",
        "model_size": "512x384",
        "steps": 1,
        "lengths": lengths,
        "seconds": [round(results[n]["seconds"], 1) for n in lengths],
        "peak_rss_mib": [round(results[n]["peak_rss_mib"], 1) for n in lengths],
    }
    if len(lengths) >= 2:
        short, long = lengths[0], lengths[-1]
        slope = (results[long]["peak_rss_mib"] - results[short]["peak_rss_mib"]) * 2**20 / (long - short)
        peak = results[short]["peak_rss_mib"] * 2**20 + slope * (TEN_MINUTES - short)
        summary.update(
            bytes_per_frame=round(slope), extrapolated_frames=TEN_MINUTES, extrapolated_peak_gib=round(peak / 2**30, 2)
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "OUTPUT"), help=argparse.SUPPRESS)
    parser.add_argument("--long", action="store_true", help="the long case at 512x384 (see above)")
    parser.add_argument("--lengths", type=int, nargs="+", help="frame counts (default: 48 96 192; --long: 240 960)")
    parser.add_argument(
        "--denoiser",
        choices=["tiny", "stand-in"],
        default=None,
        help="the tiny U-Net or the identity (default: tiny; --long: stand-in)",
    )
    args = parser.parse_args()
    denoiser = args.denoiser or ("stand-in" if args.long else "tiny")
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.long, denoiser)
        return
    clip = LONG_CLIP if args.long else CLIP
    if not clip.is_file():
        raise SystemExit(f"sample clip not found: {clip} (set DPIDM_SHARED_DATA)")
    sys.path.insert(0, str(REPO))
    lengths = args.lengths or list(LONG_LENGTHS if args.long else LENGTHS)
    results = measure(clip, lengths, args.long, denoiser)
    if args.long:
        print(json.dumps(long_summary(results, lengths, denoiser)))
        return
    short, long = results[lengths[0]], results[lengths[-1]]
    print(
        json.dumps(
            {
                "model": "tiny",
                "device": "cpu",
                "clip": CLIP.name,
                "lengths": lengths,
                "seconds": [results[n]["seconds"] for n in lengths],
                "peak_rss_mib": [round(results[n]["peak_rss_mib"], 1) for n in lengths],
                "time_ratio_4x": round(long["seconds"] / short["seconds"], 3),
                "rss_ratio_4x": round(long["peak_rss_mib"] / short["peak_rss_mib"], 3),
                "garment_unet_calls": max(results[n]["garment_unet_calls"] for n in lengths),
            }
        )
    )


if __name__ == "__main__":
    main()
