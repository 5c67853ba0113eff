"""Reading still images and frame folders as RGB uint8 arrays, whatever mode or orientation the file has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tryon_cli.errors import InputError
from tryon_cli.io._paths import require_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")

GARMENT_MAX_SIDE = 2048
"""Garment photos are read with their long side at most this: four times the model's 512-pixel frame height (the
warp engine's too), so no detail the engines can use is lost, while a 6000x8000 photo spent 34 s on its landmarks
and doubled the run's peak memory to 2 GiB (issue 24). Training reads its garments the same way."""

# PIL's own opener, kept before anything can replace it: importing ultralytics (the pose models) swaps
# `Image.open` for one that, on a file PIL cannot identify, tries to install and import pi_heif.
_pil_open = Image.open


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: transparency is composited on white (garment photos are shot on white), CMYK and
    palette images are converted by PIL, grayscale is repeated over the three channels."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale: keep the top 8 bits, not a clipped value
        return Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def read_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """Read an image as RGB uint8 (H, W, 3), turned upright by its EXIF orientation tag; with `max_side`, shrunk
    (aspect kept, Lanczos) so that its long side is at most that. A JPEG is then decoded at the smallest of 1/2, 1/4
    or 1/8 of its size that still reaches `max_side`, so a huge photo never exists at full size in memory."""
    return _shrunk(to_rgb(_read_upright(path, max_side)), max_side)


# A garment photo with real transparency (a product render) is laid on VITON-HD's product-photo backdrop, light
# grey: on white, the render's white hoodie and tee would melt into it, and the models are trained on that backdrop.
GARMENT_BACKDROP = (246, 246, 246)
# Below this alpha (of 255) a pixel is the render's drop shadow (black at alpha 100 or less in the shared product
# renders), not the garment: dropped, so the shadow does not become a dark hem.
SHADOW_ALPHA = 128


def read_garment_photo(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """A garment photo as `read_image` reads it, except that transparency is laid on `GARMENT_BACKDROP` and its
    drop shadow (alpha below `SHADOW_ALPHA`) dropped."""
    image = _read_upright(path, max_side)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode not in ("RGBA", "LA", "RGBa", "La", "PA"):
        return _shrunk(to_rgb(image), max_side)
    rgba = np.asarray(image.convert("RGBA"))
    alpha = np.where(rgba[..., 3:] >= SHADOW_ALPHA, rgba[..., 3:], 0).astype(np.uint16)
    laid = rgba[..., :3] * alpha + np.array(GARMENT_BACKDROP, np.uint16) * (255 - alpha)  # at most 255 * 255
    return _shrunk(Image.fromarray(((laid + 127) // 255).astype(np.uint8)), max_side)


def _read_upright(path: str | Path, max_side: int | None) -> Image.Image:
    """The image file loaded (a JPEG at a reduced scale that still reaches `max_side`) and turned upright by its
    EXIF orientation tag; one line for a file PIL cannot read."""
    path = require_file(path, "image")
    try:
        with _pil_open(path) as image:
            if max_side is not None:
                image.draft(None, (max_side, max_side))
            image.load()
            return ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise InputError(f"not an image PIL can read: {path}") from None
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise InputError(f"cannot read image {path}: {err}") from None


def _shrunk(rgb: Image.Image, max_side: int | None) -> np.ndarray:
    """An RGB image as uint8 (H, W, 3), its long side at most `max_side` (Lanczos)."""
    if max_side is not None and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8).copy()


def is_still_image(path: str | Path) -> bool:
    """True when `path` is a one-frame image PIL recognises (its header only is read: no pixels are decoded).

    ffmpeg reads such a file as a one-frame video, so a garment photo given as the person video would be "tried on";
    an animated GIF or WebP is not a still image."""
    try:
        with _pil_open(path) as image:
            return getattr(image, "n_frames", 1) == 1
    except (OSError, SyntaxError, ValueError):  # not an image at all (UnidentifiedImageError is an OSError)
        return False


def _numeric_key(path: Path) -> list:
    """Natural order: '2.png' before '10.png', 'frame_2' before 'frame_10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def list_frame_folder(folder: str | Path) -> list[Path]:
    """The image files of a frame folder (as in VVT: one image per frame) in numeric order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"frame folder not found: {folder}" if not folder.exists() else f"not a folder: {folder}")
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), key=_numeric_key
    )
    if not files:
        raise InputError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in frame folder {folder}")
    return files


def read_frame_folder(folder: str | Path) -> Iterator[np.ndarray]:
    """Stream a frame folder's images in numeric order; the folder is checked now, each image when it is reached."""
    return (read_image(path) for path in list_frame_folder(folder))
