"""The warp engine's garment matte (`engines/warp/matte.py`) on synthetic product photos whose truth is known."""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.matte import garment_alpha

BACKGROUND = 240  # a light grey studio backdrop


def photo_with_shadow(garment_colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 400 x 300 photo: a garment rectangle with a soft drop shadow falling to its right and below it (the
    backdrop darkened by up to 60 levels, fading over 20 pixels). Returns (photo, garment, shadow band) masks."""
    photo = np.full((400, 300, 3), BACKGROUND, np.float32)
    garment = np.zeros((400, 300), np.uint8)
    cv2.rectangle(garment, (80, 60), (220, 330), 1, -1)
    cast = np.zeros((400, 300), np.float32)
    cv2.rectangle(cast, (92, 72), (232, 342), 1.0, -1)  # the garment's outline moved 12 px right and down
    cast = cv2.GaussianBlur(cast, (0, 0), 5)
    photo *= 1 - 0.25 * cast[..., None]
    photo[garment > 0] = garment_colour
    band = (cast > 0.6) & (garment == 0)
    return np.clip(photo, 0, 255).astype(np.uint8), garment > 0, band


def test_a_coloured_garments_drop_shadow_is_left_out():
    """A camel hoodie's grey shadow (gallery T5: a pale band under the hem and beside the body) is not garment."""
    photo, garment, band = photo_with_shadow((170, 135, 95))
    alpha = garment_alpha(photo)
    assert band.sum() > 500
    assert alpha[band].mean() < 0.1
    inner = cv2.erode(garment.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert alpha[inner].min() > 0.99


def test_a_white_garments_grey_edge_is_kept():
    """On a white garment a shaded fold is the same neutral grey as a shadow: its matte keeps it."""
    photo, garment, _ = photo_with_shadow((250, 250, 250))
    fold = np.zeros(garment.shape, bool)
    fold[200:330, 200:221] = True  # a grey fold along the garment's right edge, as dark as the shadow
    photo[fold] = 185
    alpha = garment_alpha(photo)
    assert alpha[fold & (cv2.erode(garment.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)].min() > 0.99


def test_each_photo_gets_its_own_shadow_from_the_cache():
    """The drop shadow is found once per separated photo (the photo check, the landmarks and the matte all ask):
    asked in turn for photos with and without a shadow, each gets its own, as found afresh."""
    from tryon_cli.preprocess.garment_landmarks import silhouette

    shaded, _, band = photo_with_shadow((170, 135, 95))
    neutral, _, _ = photo_with_shadow((250, 250, 250))
    for photo in (shaded, neutral, shaded, neutral):
        separation = silhouette.separate(photo)
        expected = silhouette._drop_shadow(photo, separation)
        np.testing.assert_array_equal(silhouette.drop_shadow(photo, separation), expected)
    assert silhouette.drop_shadow(shaded, silhouette.separate(shaded))[band].mean() > 0.9
    assert not silhouette.drop_shadow(neutral, silhouette.separate(neutral)).any()
