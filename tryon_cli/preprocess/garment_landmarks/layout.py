"""The garment landmark layout: the model's 13 keypoints, their mirror image, the classes, each category's subset,
and the confidences the silhouette estimate gives its points."""

from __future__ import annotations

from tryon_cli.preprocess.masks import CATEGORIES

# The paper's 9 upper-body garment landmarks, named after the human keypoints they sit on; the legs' 4 below the hips.
_UPPER = ("neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "l_hip")
_LEGS = ("r_knee", "l_knee", "r_ankle", "l_ankle")

LAYOUT: tuple[str, ...] = _UPPER + _LEGS
"""The model's keypoint order (`kpt_shape: [13, 3]`)."""
FLIP_IDX: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11)
"""Where each keypoint goes when the image is mirrored (right and left swap); the dataset yaml's `flip_idx`."""
CLASS_NAMES = CATEGORIES
"""Class ids: 0 upper, 1 lower, 2 dress."""

SCHEMAS: dict[str, tuple[str, ...]] = {
    "upper": _UPPER,
    "lower": ("r_hip", "l_hip", *_LEGS),
    "dress": (*_UPPER, "r_knee", "l_knee"),  # a dress ends above the ankles
}

ON_GARMENT = 0.6
"""Confidence of an estimated point found on the garment's outline or inside it."""
PROPORTIONAL = 0.45
"""Confidence of an estimated point placed by human proportions where the garment shows no feature (a dress's
hips and knees): on the garment, but where exactly is a guess."""
OFF_GARMENT = 0.2
"""Confidence of a point beyond the garment (a short sleeve's wrist, a pair of shorts' ankle): below the drawing
threshold (keypoints.DRAW_THRESHOLD), so pose maps leave it out; its position only gives the limb's direction."""
