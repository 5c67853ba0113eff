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


def white_tee_on_light_grey() -> tuple[np.ndarray, np.ndarray]:
    """A 960 x 720 photo (the shared garment photos' size) as imagdressing_1 (gallery C4): a white tee whose mean
    colour is the backdrop's, only its weave's texture (2 levels) telling them apart, with a red print, on a light
    grey backdrop (246) with a gentle vignette (3 levels darker at the corners) and sensor noise (0.7 levels).
    Returns (photo, garment mask)."""
    rng = np.random.default_rng(7)
    height, width = 960, 720
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    vignette = 3.0 * (((x - width / 2) / width) ** 2 + ((y - height / 2) / height) ** 2) * 2
    photo = (246.0 - vignette)[..., None] + rng.normal(0, 0.7, (height, width, 1))
    photo = np.repeat(photo, 3, axis=2)
    garment = np.zeros((height, width), np.uint8)
    tee = 2 * np.array([[120, 80], [240, 80], [320, 150], [290, 200], [260, 170], [255, 420], [105, 420], [100, 170],
                        [70, 200], [40, 150]], np.int32)  # fmt: skip
    cv2.fillPoly(garment, [tee], 1)
    inside = garment > 0
    weave = cv2.GaussianBlur(rng.normal(0, 4.0, (height, width)).astype(np.float32), (0, 0), 0.8)
    photo[inside] = (246.0 - vignette[inside] + weave[inside])[:, None]
    cv2.circle(photo, (360, 440), 80, (210, 30, 40), -1)  # the print
    return np.clip(photo, 0, 255).astype(np.uint8), inside


def test_a_white_tee_on_light_grey_is_separated_whole_with_a_smooth_outline():
    """The tee's edge, where its white equals the backdrop's grey, is neither bitten nor grown into the backdrop."""
    photo, garment = white_tee_on_light_grey()
    found = garment_alpha(photo) > 0.5
    assert (found & garment).sum() / (found | garment).sum() >= 0.98
    contours, _ = cv2.findContours(found.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    truth, _ = cv2.findContours(garment.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert len(contours) == 1
    assert cv2.arcLength(contours[0], True) < 1.1 * cv2.arcLength(truth[0], True)  # no ragged, wavy outline
