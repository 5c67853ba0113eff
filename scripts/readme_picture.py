"""The README's quick-start picture: the shipped example dressed by the warp engine, as `dpidm tryon` makes it.

Rows: frames 0, 24 and 47 of examples/person.mp4; columns: input | garment photo | output. Written as a JPEG
(small enough for the README) to docs/images/quickstart.jpg.

    python scripts/readme_picture.py [--out docs/images/quickstart.jpg]
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

FRAMES = (0, 24, 47)
ROW_HEIGHT = 360


def main() -> None:
    from tryon_cli.engines.warp import WarpEngine
    from tryon_cli.io import read_frames, read_image
    from tryon_cli.pipelines.choices import MODEL_DEFAULTS
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "quickstart.jpg")
    args = parser.parse_args()
    video, garment = REPO / "examples" / "person.mp4", REPO / "examples" / "garment_upper_00057_00.jpg"
    size = MODEL_DEFAULTS["warp"]
    with tempfile.TemporaryDirectory(prefix="readme-picture-") as scratch:
        out = Path(scratch) / "out.mp4"
        run_tryon(WarpEngine(), video, garment, out, TryOnSettings(height=size["height"], width=size["width"]))
        outputs = [f for t, f in enumerate(read_frames(out)) if t in FRAMES]
    inputs = [f for t, f in enumerate(read_frames(video)) if t in FRAMES]
    photo = _height(read_image(garment), ROW_HEIGHT)
    rows = [
        np.concatenate([_height(a, ROW_HEIGHT), photo, _height(b, ROW_HEIGHT)], axis=1) for a, b in zip(inputs, outputs)
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.concatenate(rows, axis=0)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


def _height(image: np.ndarray, height: int) -> np.ndarray:
    width = round(image.shape[1] * height / image.shape[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    main()
