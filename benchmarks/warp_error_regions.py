"""Where a try-on's flicker lies: its warping error (`dpidm eval --metric warp_error`) split over three regions of
each frame, as ratios to the source's own warping error that add up to the whole ratio.

The regions come from what the try-on changed: pixels more than `CHANGED` levels off the source in some channel
(the gallery's measure) are the drawn garment. `edge` is the band of `EDGE` of the frame's height either side of
its outline, `inside` the rest of it, `elsewhere` everything else (there the output is the source, so its share
is the source's own error over that region, at most 1, plus what a garment drawn in the last frame and gone in this
one leaves).

    python benchmarks/warp_error_regions.py SOURCE.mp4 OUTPUT.mp4 [--start N]   # last line JSON

`--start`: the source frame the output's first frame was made from (`dpidm tryon --frames N:...`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHANGED = 16  # levels: h264's noise on an unchanged pixel stays below it (as `benchmarks/gallery.py`)
EDGE = 0.005  # the outline's band either side, in frame heights: 4 pixels on the example's 832


def regions(source: np.ndarray, output: np.ndarray) -> dict[str, np.ndarray]:
    """bool (H, W) per region of `output` (RGB uint8) against its `source`; they cover the frame once."""
    changed = (np.abs(output.astype(np.int16) - source).max(axis=2) > CHANGED).astype(np.uint8)
    size = 2 * max(1, round(EDGE * source.shape[0])) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    inside = cv2.erode(changed, kernel) > 0
    edge = (cv2.dilate(changed, kernel) > 0) & ~inside
    return {"inside": inside, "edge": edge, "elsewhere": ~(inside | edge)}


def split(output_frames, source_frames) -> dict:
    """The warping error of `output_frames` (flow of `source_frames`, as `metrics.warp_error.warp_error`), and
    each region's share of it; every figure a ratio to the source's own warping error."""
    from tryon_cli.metrics.warp_error import dis_flow, non_occluded, pair_error

    totals = {"inside": 0.0, "edge": 0.0, "elsewhere": 0.0}
    whole = own = 0.0
    pairs = 0
    previous = previous_source = None
    for output, source in zip(output_frames, source_frames):
        if output.shape != source.shape:
            (height, width), (source_height, source_width) = output.shape[:2], source.shape[:2]
            raise SystemExit(f"error: the output is {width}x{height}, its source {source_width}x{source_height}")
        if previous is not None:
            backward = dis_flow(source, previous_source)
            visible = non_occluded(backward, dis_flow(previous_source, source))
            count = max(int(visible.sum()), 1)
            whole += pair_error(previous, output, backward, visible)
            own += pair_error(previous_source, source, backward, visible)
            for name, region in regions(source, output).items():
                counted = visible & region
                if counted.any():  # the region's sum over the visible pixels, over all the visible pixels
                    totals[name] += pair_error(previous, output, backward, counted) * int(counted.sum()) / count
            pairs += 1
        previous, previous_source = output, source
    if not pairs or own <= 0:
        raise SystemExit("error: at least two frames with motion are needed")
    return {
        "pairs": pairs,
        "ratio": round(whole / own, 2),
        "by_region": {name: round(total / own, 2) for name, total in totals.items()},
    }


def main() -> None:
    from tryon_cli.io import read_frames

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--start", type=int, default=0, help="the source frame of the output's first frame")
    args = parser.parse_args()
    result = split(read_frames(args.output), read_frames(args.source, args.start))
    print(json.dumps({"benchmark": "warp_error_regions", "source": str(args.source), **result}))


if __name__ == "__main__":
    main()
