"""Speed and memory of the warp engine on the shipped example (624x832, 48 frames), after pose (cached).

Three figures, each in frames per second:
- `end_to_end`: `run_tryon` with the warp engine as `dpidm tryon --model warp` runs it (decode, masks, crops,
  garment landmarks, the warp, paste-back, encoding, audio), the pose cache warmed by an untimed first run;
- `engine_stream`: the engine over the application's `VideoCropClip` alone (decode, masks, crops and the warp);
- `engine_compute`: the engine over crops decoded beforehand (the warp's own cost).
Peak RSS is the process's maximum resident set (`ru_maxrss`). On a shared machine wall-clock figures say little:
the load average is printed, and `end_to_end_cpu_s_per_frame` (CPU seconds of this process and its ffmpeg
children per frame) is what the run cost whatever the load; frames/s on an idle machine with C cores is at
least C / (2 x that) when the work spreads over C cores at half efficiency, and 1 / that on one core.

    python benchmarks/warp_speed.py [--height 512 --width 384]     # last line JSON
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    from tryon_cli.engines.warp import WarpEngine
    from tryon_cli.pipelines.choices import MODEL_DEFAULTS
    from tryon_cli.progress import NullProgress
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=REPO / "examples" / "person.mp4")
    parser.add_argument("--garment", type=Path, default=REPO / "examples" / "garment_upper_00057_00.jpg")
    parser.add_argument("--height", type=int, default=MODEL_DEFAULTS["warp"]["height"])
    parser.add_argument("--width", type=int, default=MODEL_DEFAULTS["warp"]["width"])
    args = parser.parse_args()
    settings = TryOnSettings(height=args.height, width=args.width)
    engine = WarpEngine()
    with tempfile.TemporaryDirectory(prefix="warp-speed-") as scratch:
        run_tryon(engine, args.video, args.garment, Path(scratch) / "warm.mp4", settings)  # poses into the cache
        start, cpu = time.perf_counter(), _cpu_seconds()
        result = run_tryon(engine, args.video, args.garment, Path(scratch) / "out.mp4", settings)
        end_to_end, end_to_end_cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    clip, garment = _clip_and_garment(args.video, args.garment, settings)
    start = time.perf_counter()
    count = sum(1 for _ in engine.generate(clip, garment, NullProgress()))
    stream = time.perf_counter() - start
    frames = list(clip.frames())
    start = time.perf_counter()
    for _ in engine.generate(_Frames(clip, frames), garment, NullProgress()):
        pass
    compute = time.perf_counter() - start
    figures = {
        "benchmark": "warp_speed",
        "video": args.video.name,
        "frames": result.frame_count,
        "frame_size": f"{result.width}x{result.height}",
        "engine_size": f"{args.width}x{args.height}",
        "end_to_end_fps": round(result.frame_count / end_to_end, 2),
        "end_to_end_cpu_s_per_frame": round(end_to_end_cpu / result.frame_count, 4),
        "engine_stream_fps": round(count / stream, 2),
        "engine_compute_fps": round(len(frames) / compute, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(
        f"end to end {figures['end_to_end_fps']} frames/s, engine {figures['engine_stream_fps']} frames/s "
        f"(warp alone {figures['engine_compute_fps']}), peak RSS {figures['peak_rss_mb']} MB, "
        f"load average {figures['load_average']} on {figures['cpus']} CPUs"
    )
    print(json.dumps(figures))


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the ffmpeg decoders and encoders)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _clip_and_garment(video: Path, garment: Path, settings):
    """The application's clip and garment input, built as `run_tryon` builds them (pose from the cache)."""
    from tryon_cli.io import probe_video, read_image
    from tryon_cli.preprocess import conditioning
    from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks
    from tryon_cli.preprocess.human_pose import video_poses
    from tryon_cli.tryon import framing
    from tryon_cli.tryon.application import CROP_RADIUS
    from tryon_cli.tryon.clip import VideoCropClip

    meta = probe_video(video)
    poses = video_poses(video)
    boxes = framing.crop_boxes(poses.body, meta.width, meta.height, settings.height, settings.width, radius=CROP_RADIUS)
    clip = VideoCropClip(
        video,
        0,
        poses,
        boxes,
        category=settings.category,
        mask_video=None,
        height=settings.height,
        width=settings.width,
        fps=meta.fps,
    )
    photo = read_image(garment)
    landmarks, _ = detect_garment_landmarks(photo, settings.category)
    return clip, conditioning.garment_input(photo, landmarks, settings.height, settings.width)


class _Frames:
    """A clip whose frames were decoded beforehand."""

    def __init__(self, clip, frames):
        self.num_frames, self.height, self.width, self.fps = clip.num_frames, clip.height, clip.width, clip.fps
        self._frames, self._clip = frames, clip

    def frames(self):
        return iter(self._frames)

    def poses(self):
        return self._clip.poses()


if __name__ == "__main__":
    main()
