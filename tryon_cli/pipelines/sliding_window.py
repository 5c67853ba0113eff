"""The sliding-window schedule of DPIDM inference (paper section 3.6), as pure functions.

A long video is split into overlapping windows of T frames. At every denoising step each window is denoised on
its own and the noise predictions of the windows that share a frame are averaged for that frame, so the video
keeps one latent tensor and neighbouring windows agree step by step (the approach of [12, 46] that the paper
follows) instead of being stitched once at the end.

Choices where the paper is silent:
- Windows advance by `window - overlap`; the last window is moved back to end on the last frame, so every window
  has the full length T the temporal layers were trained on (it then overlaps its neighbour by more than
  `overlap`). A video shorter than T is one window of the video's length.
- "flat" weights average the overlapping predictions equally; "pyramid" weights each window's frames by their
  distance from the window's edges (1, 2, ..., peak, ..., 2, 1) so a frame leans on the window where it has the
  most temporal context. Either way the weights of one frame sum to one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tryon_cli.errors import SettingError
from tryon_cli.pipelines.choices import WEIGHT_KINDS

WeightKind = Literal["flat", "pyramid"]


def check_window(window: int | None, overlap: int) -> None:
    """The one check of a window length and overlap, whatever the clip (SettingError naming the setting): the CLI
    before anything is built, `DPIDMSampling`, and `window_schedule` all ask it. `window=None`: one window."""
    if overlap < 0:
        raise SettingError("overlap", f"must be at least 0, got {overlap}")
    if window is None:
        return
    if window < 1:
        raise SettingError("window", f"must be at least 1 frame, got {window}")
    if overlap >= window:
        raise SettingError("overlap", f"must be at least 0 and less than the window ({window} frames), got {overlap}")


def window_schedule(num_frames: int, window: int | None, overlap: int = 0) -> list[slice]:
    """The windows (as frame slices) that cover `num_frames` frames; `window=None` means one window for all."""
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    check_window(window, overlap)
    if window is None or window >= num_frames:
        return [slice(0, num_frames)]
    stride = window - overlap
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return [slice(start, start + window) for start in starts]


def window_profile(length: int, kind: WeightKind = "flat") -> np.ndarray:
    """The unnormalised weight of each frame inside one window of `length` frames."""
    if kind == "flat":
        return np.ones(length, dtype=np.float64)
    if kind == "pyramid":
        position = np.arange(length, dtype=np.float64)
        return np.minimum(position + 1, length - position)
    raise ValueError(f"unknown window weighting {kind!r}; choose from {', '.join(WEIGHT_KINDS)}")


def frame_weights(num_frames: int, windows: list[slice], kind: WeightKind = "flat") -> list[np.ndarray]:
    """Per-window frame weights, normalised so that the weights of every frame sum to one over its windows."""
    profiles = [window_profile(w.stop - w.start, kind) for w in windows]
    total = np.zeros(num_frames, dtype=np.float64)
    for w, profile in zip(windows, profiles):
        total[w] += profile
    if np.any(total == 0):
        raise ValueError(f"windows leave frames {np.flatnonzero(total == 0).tolist()} uncovered")
    return [profile / total[w] for w, profile in zip(windows, profiles)]
