"""Issue 24, item 9: a huge garment photo is shrunk once, when it is read (a 6000x8000 photo spent 34 s on its
landmarks and doubled the run's peak memory); a photo of ordinary size is read unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tryon_cli.io import GARMENT_MAX_SIDE, read_image, write_video
from tryon_cli.tryon.request import check_request
from tryon_cli.tryon.settings import TryOnSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "garment_upper_00057_00.jpg"


def _shirt(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    width, height = size
    image = Image.new(mode, size, (255, 255, 255, 0) if mode == "RGBA" else "white")
    shape = [(0.25, 0.1), (0.75, 0.1), (0.95, 0.3), (0.8, 0.4), (0.72, 0.3), (0.72, 0.9), (0.28, 0.9), (0.28, 0.3)]
    ImageDraw.Draw(image).polygon([(x * width, y * height) for x, y in shape], fill=(30, 60, 160, 255))
    return image


def test_the_try_on_reads_a_huge_photo_shrunk_as_a_full_decode_would_be(tmp_path):
    big = tmp_path / "big.jpg"
    _shirt((3000, 4096)).save(big, quality=95)
    write_video(tmp_path / "person.mp4", [np.zeros((32, 24, 3), np.uint8)] * 2, 24)
    photo = check_request(tmp_path / "person.mp4", big, tmp_path / "out.mp4", TryOnSettings()).photo
    assert photo.shape == (GARMENT_MAX_SIDE, 1500, 3)
    # The JPEG was decoded at half size; against the full decode shrunk by the same filter, the same picture.
    with Image.open(big) as full:
        reference = np.asarray(full.convert("RGB").resize((1500, GARMENT_MAX_SIDE), Image.Resampling.LANCZOS))
    assert np.abs(photo.astype(int) - reference).mean() < 1.5


def test_a_transparent_png_is_shrunk_after_its_background_is_made_white(tmp_path):
    path = tmp_path / "big.png"
    _shirt((4000, 2600), "RGBA").save(path)
    photo = read_image(path, GARMENT_MAX_SIDE)
    assert photo.shape == (1331, GARMENT_MAX_SIDE, 3)
    assert (photo[0, 0] == 255).all() and (photo[-1, -1] == 255).all()  # the transparent corners are white


def test_a_photo_of_ordinary_size_is_read_unchanged():
    assert np.array_equal(read_image(EXAMPLE, GARMENT_MAX_SIDE), read_image(EXAMPLE))
