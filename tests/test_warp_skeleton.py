"""The warp engine's per-bone fit (`engines/warp/skeleton.py`): a sleeve follows its bone, a short sleeve keeps the
garment photo's proportions instead of being stretched to the elbow, and the garment's pixels are split into parts
without stray pieces."""

from __future__ import annotations

import cv2
import numpy as np

from tests.test_warp_engine import EXAMPLES, garment_input
from tryon_cli.engines.warp.matte import garment_matte
from tryon_cli.engines.warp.skeleton import PARTS, ends_short, label_parts, limb_transform, parts_for
from tryon_cli.preprocess.keypoints import BODY_INDEX

UPPER_ARM = next(part for part in PARTS["upper"] if part.name == "r_upper_arm")


def garment_arm(wrist_confidence: float) -> np.ndarray:
    """A garment's right arm landmarks: shoulder (100, 100), the sleeve's end 60 px down the arm at (100, 160), the
    wrist 50 px further (on the garment for a long sleeve, a direction only for a short one)."""
    body = np.zeros((18, 3), np.float32)
    body[BODY_INDEX["r_shoulder"]] = (100, 100, 0.6)
    body[BODY_INDEX["r_elbow"]] = (100, 160, 0.6)
    body[BODY_INDEX["r_wrist"]] = (100, 210, wrist_confidence)
    return body


def person_arm() -> np.ndarray:
    """A person's right upper arm raised to the right: shoulder (200, 300), elbow 150 px away at (350, 300)."""
    body = np.zeros((18, 3), np.float32)
    body[BODY_INDEX["r_shoulder"]] = (200, 300, 0.9)
    body[BODY_INDEX["r_elbow"]] = (350, 300, 0.9)
    return body


def sleeve_end(garment: np.ndarray, scale: float) -> np.ndarray:
    """Where the fitted upper arm puts the garment's sleeve end (its elbow landmark), in person pixels."""
    matrix = limb_transform(UPPER_ARM, garment, person_arm(), scale)
    return matrix[:, :2] @ garment[BODY_INDEX["r_elbow"], :2] + matrix[:, 2]


def test_a_long_sleeve_is_stretched_along_its_bone_to_the_elbow():
    garment = garment_arm(0.6)
    assert not ends_short(UPPER_ARM, garment)
    # Bones 60 and 150 px long: 2.5x, within 1.8x the trunk's scale 1.5; the sleeve's elbow lands on the elbow.
    np.testing.assert_allclose(sleeve_end(garment, 1.5), (350, 300), atol=1e-6)


def test_a_short_sleeve_keeps_the_photo_s_proportions_along_a_long_arm():
    """A short sleeve's end is the cloth's end, not the elbow: stretched only by the trunk's scale (60 px x 1.5 =
    90 px down the 150 px bone), it ends part of the way down the arm, as it does on the photo."""
    garment = garment_arm(0.2)
    assert ends_short(UPPER_ARM, garment)
    np.testing.assert_allclose(sleeve_end(garment, 1.5), (290, 300), atol=1e-6)
    # Where the bone looks shorter than the sleeve (an arm pointing at the camera) it ends at the elbow.
    np.testing.assert_allclose(sleeve_end(garment, 4.0), (350, 300), atol=1e-6)


def test_a_sleeve_s_cuff_corner_is_the_sleeve_s_not_a_stray_piece_of_the_torso():
    """On the shipped tee the sleeves' outer cuff corners lie farther from their bones than the sleeves' measured
    half-width allows (`WIDTH_SLACK`). Labelled as torso, each was a sliver apart from the torso, drawn by the torso's
    map as a thin dark line hanging beside the arm below the new sleeve (gallery T1). The torso is one piece, and
    every garment pixel is still drawn by some part."""
    garment = garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")
    body = garment.landmarks.as_body()
    parts = parts_for("upper", body)
    _, alpha = garment_matte(garment.image)
    alphas = label_parts(alpha, body, parts)
    torso = next(a for part, a in zip(parts, alphas) if part.name == "torso")
    pieces, _ = cv2.connectedComponents((torso > 0.5).astype(np.uint8), connectivity=8)
    assert pieces == 2, pieces - 1  # the background and the torso
    np.testing.assert_allclose(np.max(alphas, axis=0), alpha)
