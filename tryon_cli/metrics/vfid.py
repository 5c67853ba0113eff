"""How VFID turns videos into clips, per protocol (REFERENCE section 3).

Both protocols feed clips of 10 consecutive frames, each frame resized (squashed, aspect ratio not kept) to
224x224 and scaled to [-1, 1], to I3D or 3D-ResNeXt-101; VFID is the Frechet distance between the two sets of
clip features.

- `standard` (default): every non-overlapping 10-frame clip of every video, RGB; frames left over at the end of a
  video (fewer than 10) are dropped, and no clip spans two videos.
- `catv2ton`: what the public try-on VFID code does on mp4 input, for comparison with papers that used it: one clip
  per video, its first 10 frames, with the channels in BGR order (the code reads with OpenCV and never converts).

The public code does not pin the resize filter; we use bilinear with antialiasing (what torchvision's Resize
does on PIL images).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch

from tryon_cli.metrics.frames import frames_to_tensor
from tryon_cli.metrics.names import PROTOCOLS

CLIP_LENGTH = 10
CLIP_SIZE = 224


def clips(frames: Iterable[np.ndarray], protocol: str) -> Iterator[list[np.ndarray]]:
    """The clips (lists of CLIP_LENGTH RGB frames) that `protocol` takes from one video's frames."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown VFID protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    clip: list[np.ndarray] = []
    for frame in frames:
        clip.append(frame)
        if len(clip) == CLIP_LENGTH:
            yield clip
            if protocol == "catv2ton":
                return
            clip = []


def clip_tensor(clip: list[np.ndarray], protocol: str) -> torch.Tensor:
    """(3, T, 224, 224) float in [-1, 1] from T RGB uint8 frames; channels reversed (BGR) for `catv2ton`."""
    x = frames_to_tensor(clip, (CLIP_SIZE, CLIP_SIZE))
    if protocol == "catv2ton":
        x = x.flip(1)
    return (x * 2 - 1).permute(1, 0, 2, 3)
