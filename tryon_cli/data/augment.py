"""The paper's augmentations (section 3.6), on keypoints; the pixels are flipped with them in `dataset.py`.

(Every frame is first centre-cropped to the training aspect and resized to it, keypoints with it, by the shared
recipe: `preprocess.conditioning.centre_box`; garment photos are padded with white instead, as at try-on.)

- Horizontal flip (p = 0.5): person, mask, garment and both pose sets flip together, so an asymmetric print stays
  on the same side of the garment image and the person; left and right keypoints swap labels, as a pose estimator
  run on the mirrored frame would label them: body points by name, the two hands, the face's sides.
- Keypoint drop (p = 0.05): each human keypoint of each frame independently gets confidence 0 (not drawn), so
  the model learns to infer a missing joint from the neighbouring frames. Garment landmarks are not dropped: the
  paper motivates the drop with discontinuous human pose sequences.
"""

from __future__ import annotations

import numpy as np

from tryon_cli.preprocess.keypoints import BODY_NAMES


def flip_keypoints(points: np.ndarray, width: int, permutation: list[int] | None) -> np.ndarray:
    """Mirror (..., N, 3) keypoints in an image `width` pixels wide and relabel them with `permutation`."""
    out = np.array(points, np.float32, copy=True)
    present = out[..., 2] > 0
    out[..., 0] = np.where(present, width - 1 - out[..., 0], 0)
    return out[..., list(permutation), :] if permutation is not None else out


def flip_name_permutation(names: list[str]) -> list[int]:
    """Permutation that swaps landmarks named `l_*` and `r_*` (garment landmarks are named after human keypoints)."""

    def mirrored(name: str) -> str:
        if name.startswith("l_"):
            return "r_" + name[2:]
        if name.startswith("r_"):
            return "l_" + name[2:]
        return name

    return [names.index(mirrored(n)) if mirrored(n) in names else i for i, n in enumerate(names)]


def drop_keypoints(points: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Each keypoint of (..., 3) set missing (x = y = conf = 0) with probability p."""
    out = np.array(points, np.float32, copy=True)
    if p > 0:
        out[rng.random(out.shape[:-1]) < p] = 0
    return out


OPENPOSE18_FLIP = flip_name_permutation(list(BODY_NAMES))
"""Relabels OpenPose-18 left and right after a horizontal flip."""

# iBUG-68 points that trade places in a mirror image: jaw, brows, nose wings, eyes, mouth. The points on the midline
# (chin 8, nose bridge and tip 27-30 and 33, the mouth's middle 51, 57, 62, 66) keep their index.
_FACE68_MIRROR_PAIRS = (
    *((i, 16 - i) for i in range(8)),
    *((17 + i, 26 - i) for i in range(5)),
    (31, 35),
    (32, 34),
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),
    (60, 64),
    (61, 63),
    (65, 67),
)


def _pairs_permutation(size: int, pairs) -> list[int]:
    permutation = list(range(size))
    for a, b in pairs:
        permutation[a], permutation[b] = b, a
    return permutation


FACE68_FLIP = _pairs_permutation(68, _FACE68_MIRROR_PAIRS)
"""Relabels the iBUG-68 face's own left and right after a horizontal flip (the pose map draws the face as dots of
one colour, so only the labels change: they stay true for anything that reads them by index)."""
