"""How `dpidm tryon` scales with video length: tiny model on the CPU, one real clip cut to 48, 96 and 192 frames.

For each length a fresh Python process runs the whole pipeline (pose with an empty cache, masks, garment,
sliding-window DDIM, decoding, paste-back, writing) and reports its wall time, its peak RSS and how many times the
garment U-Net ran. Linear time means time_ratio_4x (t192 / t48) near 4 (target <= 4.4); streaming means flat
memory, rss_ratio_4x near 1 (target <= 1.15); the garment branch runs once per video (target 1).

    python benchmarks/tryon_scaling.py            # prints one line per length, last line JSON
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


def child(video: Path, output: Path) -> None:
    """One measured run, in its own process; prints its figures as JSON."""
    sys.path.insert(0, str(REPO))
    from tryon_cli.offline import apply_offline_defaults

    apply_offline_defaults()
    import torch

    from tryon_cli.engines import build_engine
    from tryon_cli.engines.dpidm import DPIDMSampling
    from tryon_cli.pipelines.choices import MODEL_DEFAULTS
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    torch.set_num_threads(2)
    started = time.perf_counter()
    defaults = MODEL_DEFAULTS["tiny"]
    engine = build_engine("tiny", sampling=DPIDMSampling(steps=defaults["steps"], seed=0))
    calls = []
    engine.model.garment_unet.register_forward_pre_hook(lambda *_: calls.append(1))
    run_tryon(engine, video, GARMENT, output,
              TryOnSettings(category="dress", height=defaults["height"], width=defaults["width"]))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "garment_unet_calls": len(calls)}))


def cut(source: Path, frames: int, target: Path) -> None:
    from tryon_cli.io.ffmpeg import run_ffmpeg

    result = run_ffmpeg("-v", "error", "-i", str(source), "-frames:v", str(frames), "-c:v", "libx264", "-crf", "12",
                        "-an", "-y", str(target))
    if result.returncode != 0:
        raise SystemExit(f"cannot cut {source}: {result.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    if not CLIP.is_file():
        raise SystemExit(f"sample clip not found: {CLIP} (set DPIDM_SHARED_DATA)")
    sys.path.insert(0, str(REPO))
    results = {}
    with tempfile.TemporaryDirectory(prefix="dpidm-bench-") as folder:
        folder = Path(folder)
        for frames in LENGTHS:
            video = folder / f"clip{frames}.mp4"
            cut(CLIP, frames, video)
            # An empty pose cache per run: each length pays for its own pose estimation.
            env = {**os.environ, "DPIDM_CACHE": str(folder / f"cache{frames}")}
            out = subprocess.run([sys.executable, __file__, "--child", str(video), str(folder / f"out{frames}.mp4")],
                                 env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"run on {frames} frames failed:\n{out.stderr[-3000:]}")
            results[frames] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[frames]
            print(f"{frames:4d} frames: {r['seconds']:7.1f} s  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
                  f"garment U-Net calls {r['garment_unet_calls']}", flush=True)
    short, long = results[LENGTHS[0]], results[LENGTHS[-1]]
    print(json.dumps({
        "model": "tiny", "device": "cpu", "clip": CLIP.name, "lengths": list(LENGTHS),
        "seconds": [results[n]["seconds"] for n in LENGTHS],
        "peak_rss_mib": [round(results[n]["peak_rss_mib"], 1) for n in LENGTHS],
        "time_ratio_4x": round(long["seconds"] / short["seconds"], 3),
        "rss_ratio_4x": round(long["peak_rss_mib"] / short["peak_rss_mib"], 3),
        "garment_unet_calls": max(results[n]["garment_unet_calls"] for n in LENGTHS),
    }))


if __name__ == "__main__":
    main()
