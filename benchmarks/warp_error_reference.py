"""The warping error (flicker added, `dpidm eval --metric warp_error`) of a published video try-on model's own
outputs, next to the warp engine's on the same clips and garments.

3DV-TON's repository ships its demo predictions (`../shared/data/3dvton/outputs/pred/`, 32 frames, 576x768): the
dress 1046602 on clip 1046043_detail and two dresses on clip model_1. Their frames are the source's first 32,
one for one (matched on the legs below the dress). Each prediction is scored with the flow of its source, as the
metric defines it, and so is the warp engine's output for the same clip, frames and garment (`dpidm tryon
--model warp --category dress --frames 0:32`). The figure is the ratio prediction / source: 1 adds no flicker.

    python benchmarks/warp_error_reference.py      # one line per clip, last line JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("DPIDM_SHARED_DATA", REPO.parent / "shared" / "data")) / "3dvton"
FRAMES = 32
CASES = (  # (source clip, garment, 3DV-TON's prediction)
    ("1046043_detail.mp4", "1046602_in_xl.jpg", "30_1046043_detail_1046602_in_xl_768x576_2.mp4"),
    (
        "model_1.mp4",
        "744288310346_origin_20240116171929.png",
        "30_model_1_744288310346_origin_20240116171929_768x576_2.mp4",
    ),
    (
        "model_1.mp4",
        "744396420989_origin_20240116174720.png",
        "30_model_1_744396420989_origin_20240116174720_768x576_2.mp4",
    ),
)


def main() -> None:
    from tryon_cli.io import read_frames
    from tryon_cli.metrics.warp_error import warp_error

    if not DATA.is_dir():
        raise SystemExit(f"3DV-TON sample data not found: {DATA} (set DPIDM_SHARED_DATA)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="warp-error-ref-") as scratch:
        for clip, garment, prediction in CASES:
            source = DATA / "videos" / clip
            ours = Path(scratch) / f"{Path(clip).stem}-{Path(garment).stem}.mp4"
            command = [
                sys.executable,
                "-m",
                "tryon_cli",
                "tryon",
                str(source),
                str(DATA / "cloths" / garment),
                "-o",
                str(ours),
                "--model",
                "warp",
                "--category",
                "dress",
                "--frames",
                f"0:{FRAMES}",
            ]
            subprocess.run(command, check=True, capture_output=True, cwd=REPO)
            theirs = warp_error(read_frames(DATA / "outputs" / "pred" / prediction), read_frames(source, 0, FRAMES))
            mine = warp_error(read_frames(ours), read_frames(source, 0, FRAMES))
            rows.append(
                {
                    "clip": clip,
                    "garment": garment,
                    "frames": FRAMES,
                    "3dvton_ratio": round(theirs.ratio, 2),
                    "warp_engine_ratio": round(mine.ratio, 2),
                }
            )
            print(
                f"{clip:20s} {garment[:24]:24s} 3DV-TON {theirs.ratio:6.2f}x   warp engine {mine.ratio:6.2f}x",
                flush=True,
            )
    print(
        json.dumps(
            {"benchmark": "warp_error_reference", "metric": "warp_error ratio (prediction / source)", "cases": rows}
        )
    )


if __name__ == "__main__":
    main()
