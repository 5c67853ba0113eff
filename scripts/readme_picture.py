"""The README's pictures: a clip dressed by the warp engine, as `dpidm tryon` makes it.

Rows: three frames of the clip; columns: input | garment photo | output. Written as a JPEG (small enough for the
README). Without options, the quick start: frames 0, 24 and 47 of examples/person.mp4 in the shipped T-shirt, to
docs/images/quickstart.jpg. The hard case of the README (MusePose's dancer, MIT, ../shared/data):

    python scripts/readme_picture.py [--out docs/images/quickstart.jpg]
    python scripts/readme_picture.py --video ../shared/data/musepose/dance.mp4 \\
        --garment examples/garment_upper_00057_00.jpg --frames 0:96 --rows 8,48,88 --out docs/images/hard_case.jpg
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ROW_HEIGHT = 360


def main() -> None:
    from tryon_cli.engines.warp import WarpEngine
    from tryon_cli.io import read_frames, read_garment_photo
    from tryon_cli.pipelines.choices import MODEL_DEFAULTS
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=REPO / "examples" / "person.mp4")
    parser.add_argument("--garment", type=Path, default=REPO / "examples" / "garment_upper_00057_00.jpg")
    parser.add_argument("--category", default="upper")
    parser.add_argument("--frames", default=None, help="START:END run (default: the whole clip)")
    parser.add_argument("--rows", default="0,24,47", help="the frames shown, counted from START")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "quickstart.jpg")
    args = parser.parse_args()
    start, stop = (int(v) for v in args.frames.split(":")) if args.frames else (0, None)
    rows = [int(v) for v in args.rows.split(",")]
    size = MODEL_DEFAULTS["warp"]
    settings = TryOnSettings(
        category=args.category,
        frames=(start, stop) if args.frames else None,
        height=size["height"],
        width=size["width"],
    )
    with tempfile.TemporaryDirectory(prefix="readme-picture-") as scratch:
        out = Path(scratch) / "out.mp4"
        run_tryon(WarpEngine(), args.video, args.garment, out, settings)
        outputs = [f for t, f in enumerate(read_frames(out)) if t in rows]
    inputs = [f for t, f in enumerate(read_frames(args.video, start, stop)) if t in rows]
    photo = _height(read_garment_photo(args.garment), ROW_HEIGHT)
    picture = [
        np.concatenate([_height(a, ROW_HEIGHT), photo, _height(b, ROW_HEIGHT)], axis=1) for a, b in zip(inputs, outputs)
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.concatenate(picture, axis=0)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


def _height(image: np.ndarray, height: int) -> np.ndarray:
    width = round(image.shape[1] * height / image.shape[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    main()
