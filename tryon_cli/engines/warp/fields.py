"""Each garment part's print carried by the source's dense optical flow, not only by its part's affine map.

A part's affine map (`motion.MotionTracker`) moves its pixels as one piece; cloth does not: a skirt swings with
the legs under it, a sleeve bends along its length. Where the source moves otherwise than the part's affine, a
print drawn by the affine alone slides over the body from frame to frame, and on a high-contrast print (the
3DV-TON dress's pink flowers on a black dress) that is flicker. So each part also has a dense residual field D
(crop pixels, on a grid of `STEP` crop pixels): the part's pixel x shows the garment point that its map puts at
x + D(x). From frame to frame D is carried along the flow, so the garment point that was at y is shown where the
flow takes y: the print moves with the pixels under it, whatever their motion.

What keeps it on the body:
- D fades toward 0 by `FADE` a frame (the map stays the garment's place on the body; a stray offset goes), and by
  up to all of it where the part's flow is not trusted (`motion.MotionTracker.trust`: few textured pixels under
  the part; there the flow's "no motion" is not the cloth's, and a sleeve on a plain cardigan would stay behind
  its arm);
- it is averaged over the part's own pixels with a Gaussian of `SMOOTH` crop heights: the flow beside the part
  (the wall, the other arm) has no say, and the print bends smoothly instead of tearing where the motion changes
  (unsmoothed, the 3DV-TON skirt's hem smeared sideways for a few frames as the legs crossed);
- it is never longer than `LIMIT` crop heights.
A part seen for the first time, after a gap, or across a mirrored fit starts with D = 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.motion import DRIFT_LIMIT, CropMotion, mirrors, reined
from tryon_cli.engines.warp.outline import Taper

STEP = 4  # the fields' grid, crop pixels: the flow is smooth over a few pixels, and a coarse grid is cheap
FADE = 0.15  # share of the residual dropped each frame where the part's flow is trusted
SMOOTH = 0.03  # the Gaussian that averages the residual over the part, in crop heights (15 px at 512)
LIMIT = 0.03  # the longest residual, in crop heights: about 1.5 cm of a 50 cm trunk
INVERSION_STEPS = 3  # fixed-point steps that turn the forward flow into the backward one


class ResidualFields:
    """Per-video state: each part's residual field (float32 (h, w, 2), crop pixels on the `STEP` grid)."""

    def __init__(self, motion: CropMotion) -> None:
        self.motion = motion
        self.fields: dict[str, np.ndarray] = {}
        self._maps: dict[str, np.ndarray] = {}
        self._backward: np.ndarray | None = None  # this frame's backward flow on the grid
        self._flow: np.ndarray | None = None  # the forward flow it was made from

    def __call__(
        self, name: str, matrix: np.ndarray | None, fitted: np.ndarray | None, trust: float, samples: np.ndarray
    ) -> np.ndarray | None:
        """Part `name`'s residual field this frame, from its map garment -> crop this frame (None: no map, no
        field), this frame's keypoint fit (None: none), how far its flow is trusted (0-1) and its garment samples
        (`motion.part_samples`)."""
        previous, field = self._maps.get(name), self.fields.get(name)
        if matrix is None:
            self._maps.pop(name, None)
            self.fields.pop(name, None)
            return None
        matrix = np.asarray(matrix, np.float64)
        self._maps[name] = matrix
        height, width = self.motion.gray.shape
        if previous is None or self.motion.flow is None or mirrors(previous, matrix):
            field = np.zeros((_cells(height), _cells(width), 2), np.float32)
        else:
            field = self._carried(field, previous, matrix) * np.float32(trust * (1 - FADE))
            coverage = _coverage(samples, matrix, field.shape[:2])
            field = _smoothed(field, coverage, SMOOTH * height / STEP)
            if fitted is not None:
                field = _held(field, coverage, matrix, fitted, samples.mean(axis=0), DRIFT_LIMIT * height)
            length = np.linalg.norm(field, axis=2, keepdims=True)
            field *= np.minimum(1.0, LIMIT * height / np.maximum(length, 1e-6))
        self.fields[name] = field
        return field

    def _carried(self, field: np.ndarray | None, previous: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Last frame's `field` carried to this frame: for each grid point x, where the flow says it was (y), the
        garment point shown there (the map's y + D(y)), and where this frame's map puts that point, less x."""
        backward = self._backward_flow()
        here = _grid(backward.shape[:2])
        there = here + backward
        if field is not None and field.shape == backward.shape:
            there += _sample(field, there)
        # The part's own motion from the last frame to this one: this frame's map after the last one's inverse.
        step = _compose(matrix, cv2.invertAffineTransform(previous)).astype(np.float32)
        return there @ step[:, :2].T + step[:, 2] - here

    def _backward_flow(self) -> np.ndarray:
        """The flow from this frame back to the last on the grid (crop pixels), once per frame: B(x) = -F(x + B(x))
        solved by fixed-point steps from the forward flow F."""
        flow = self.motion.flow
        if self._flow is not flow:
            height, width = flow.shape[:2]
            forward = cv2.resize(flow, (_cells(width), _cells(height)), interpolation=cv2.INTER_AREA)
            here = _grid(forward.shape[:2])
            backward = -forward
            for _ in range(INVERSION_STEPS):
                backward = -_sample(forward, here + backward)
            self._flow, self._backward = flow, backward
        return self._backward


def warp_part(
    layer: np.ndarray, matrix: np.ndarray, field: np.ndarray | None, origin, size, taper: Taper | None = None
) -> np.ndarray:
    """`layer` (garment pixels) drawn into a box of `size` (width, height) whose top-left pixel is crop pixel
    `origin` (x, y), by `matrix` (garment -> crop) and the residual `field` (None or all 0: the map alone), the
    garment first widened by `taper` (a trunk part's, `outline.Taper`) where one is given."""
    width, height = size
    x0, y0 = origin
    if taper is None and (field is None or not field.any()):
        moved = np.array(matrix, np.float64)
        moved[:, 2] -= (x0, y0)
        return cv2.warpAffine(layer, moved, (width, height))
    ys, xs = np.mgrid[y0 : y0 + height, x0 : x0 + width].astype(np.float32)
    if field is not None:
        offset = _sample(field, np.dstack([xs, ys]))
        xs += offset[..., 0]
        ys += offset[..., 1]
    inverse = cv2.invertAffineTransform(np.asarray(matrix, np.float64)).astype(np.float32)
    map_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    map_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    if taper is not None:
        map_x, map_y = (a.astype(np.float32) for a in taper.source(map_x, map_y))
    return cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _held(
    field: np.ndarray, coverage: np.ndarray, matrix: np.ndarray, fitted: np.ndarray, centre: np.ndarray, limit: float
) -> np.ndarray:
    """`field` plus the constant that takes back `motion.EXCESS_PULL` of the distance by which the part as drawn
    (its map, shifted by the field's mean over the part's cells, weighted by `coverage`) puts its `centre` farther
    than `limit` crop pixels from where the keypoint fit `fitted` puts it (`motion.DRIFT_LIMIT`). The field moves
    the print against its displacement: a pixel x shows the garment point the map puts at x + D(x)."""
    total = float(coverage.sum())
    if total <= 0:
        return field
    mean = (field * coverage[..., None]).sum(axis=(0, 1)) / total
    apart = (matrix[:, :2] @ centre + matrix[:, 2] - mean) - (fitted[:, :2] @ centre + fitted[:, 2])
    return (field + reined(apart, limit)).astype(np.float32)


def _coverage(samples: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 (h, w): how many of the part's garment samples its map puts in each grid cell."""
    cells = np.floor((samples @ matrix[:, :2].T + matrix[:, 2]) / STEP).astype(int)
    inside = (cells[:, 0] >= 0) & (cells[:, 0] < shape[1]) & (cells[:, 1] >= 0) & (cells[:, 1] < shape[0])
    counts = np.zeros(shape, np.float32)
    np.add.at(counts, (cells[inside, 1], cells[inside, 0]), 1.0)
    return counts


def _smoothed(field: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """`field` averaged with a Gaussian of `sigma` cells over the cells the part covers (`weight`); the cells
    beside the part take the average of the part's nearby cells."""
    total = cv2.GaussianBlur(weight, (0, 0), sigma)
    blurred = cv2.GaussianBlur(field * weight[..., None], (0, 0), sigma)
    return (blurred / np.maximum(total, 1e-3)[..., None]).astype(np.float32)


def _cells(size: int) -> int:
    return max(1, -(-size // STEP))


def _grid(shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 2) float32 crop coordinates (x, y) of the grid cells' centres."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return np.dstack([xs, ys]) * STEP + (STEP - 1) / 2


def _sample(grid_values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """`grid_values` (h, w, 2) on the `STEP` grid, read bilinearly at crop coordinates `at` (..., 2)."""
    cells = (at - (STEP - 1) / 2) / STEP
    return cv2.remap(grid_values, cells[..., 0], cells[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine outer(inner(x))."""
    return np.concatenate([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)
