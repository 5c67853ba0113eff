"""The warp engine replaces only the person's old garment inside the repaint mask (`engines/warp/old_garment.py`):
on a synthetic frame of the hard case (a cream cardigan on a white wall over a white skirt, as in the shipped
example), the segmentation finds the cardigan, and the engine leaves the wall and the skirt as they were while the
cardigan's sleeves, which a short-sleeved tee does not cover, are gone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from test_warp_engine import Quiet, SingleFrame, garment_input

from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp import WarpEngine
from tryon_cli.engines.warp.body import background_fill, skin_likelihood
from tryon_cli.engines.warp.old_garment import from_contrast, old_garment
from tryon_cli.preprocess.keypoints import BODY_INDEX as J
from tryon_cli.preprocess.keypoints import FramePose

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEIGHT, WIDTH = 512, 384
WALL, CARDIGAN, SKIN, SKIRT = (232, 232, 231), (214, 212, 196), (172, 122, 92), (241, 241, 239)  # as in the example
JOINTS = {
    "nose": (192, 70),
    "neck": (192, 118),
    "r_shoulder": (150, 128),
    "l_shoulder": (234, 128),
    "r_elbow": (140, 205),
    "l_elbow": (244, 205),
    "r_wrist": (136, 280),
    "l_wrist": (248, 280),
    "r_hip": (166, 285),
    "l_hip": (218, 285),
    "r_knee": (168, 380),
    "l_knee": (216, 380),
    "r_ankle": (170, 470),
    "l_ankle": (214, 470),
}


def _line(canvas, a, b, width):
    cv2.line(canvas, JOINTS[a], JOINTS[b], 1, width)


@pytest.fixture(scope="module")
def scene():
    return make_scene()


def make_scene():
    """(source, mask, body, regions): the frame, a generous repaint mask, the keypoints and each region's pixels."""
    rng = np.random.default_rng(0)
    cardigan = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillConvexPoly(
        cardigan,
        np.array([JOINTS[n] for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip")])
        + np.array([[-6, -4], [6, -4], [6, 0], [-6, 0]]),
        1,
    )
    skin = np.zeros_like(cardigan)
    for side in "rl":
        _line(cardigan, f"{side}_shoulder", f"{side}_elbow", 30)
        cuff = tuple(
            int(v)
            for v in np.add(
                JOINTS[f"{side}_elbow"], np.subtract(JOINTS[f"{side}_wrist"], JOINTS[f"{side}_elbow"]) * 0.6
            )
        )
        cv2.line(cardigan, JOINTS[f"{side}_elbow"], cuff, 1, 26)
        cv2.line(skin, cuff, JOINTS[f"{side}_wrist"], 1, 16)
    forearms = skin.copy()
    cv2.circle(skin, JOINTS["nose"], 32, 1, -1)
    cv2.line(skin, JOINTS["nose"], JOINTS["neck"], 1, 26)
    skin &= 1 - cardigan
    skirt = np.zeros_like(cardigan)
    cv2.fillConvexPoly(skirt, np.array([(160, 285), (224, 285), (250, 430), (134, 430)]), 1)
    skirt &= 1 - cardigan
    source = np.empty((HEIGHT, WIDTH, 3), np.float32)
    for region, colour in ((np.ones_like(cardigan), WALL), (skirt, SKIRT), (cardigan, CARDIGAN), (skin, SKIN)):
        source[region > 0] = colour
    source = np.clip(source + rng.normal(0, 2.5, source.shape), 0, 255).astype(np.uint8)
    mask = cv2.dilate(cardigan, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (61, 61))) > 0
    mask[JOINTS["r_hip"][1] + 60 :] = False
    body = np.zeros((18, 3), np.float32)
    for name, xy in JOINTS.items():
        body[J[name]] = (*xy, 0.9)
    wall = mask & (cv2.dilate(cardigan | skin | skirt, np.ones((9, 9), np.uint8)) == 0)
    regions = {
        "cardigan": cv2.erode(cardigan, np.ones((5, 5), np.uint8)) > 0,
        "wall": wall,
        "skin": (skin > 0) & mask,
        "bare forearms": (forearms & (1 - cardigan) > 0) & mask,
        "skirt": mask & (cv2.erode(skirt, np.ones((9, 9), np.uint8)) > 0),
    }
    return source, mask, body, regions


def test_the_cardigan_is_found_and_the_wall_skin_and_skirt_are_not(scene):
    source, mask, body, regions = scene
    skin = skin_likelihood(source)
    background = background_fill(source, mask)
    found = old_garment(source, mask, body, skin, background, "upper") > 0.5
    assert found[regions["cardigan"]].mean() >= 0.95
    assert found[regions["wall"]].mean() <= 0.01
    assert found[regions["skirt"]].mean() <= 0.05
    assert not found[regions["skin"]].any()
    # The colour test alone takes some of the wall for garment: the inpainting it compares with carries the
    # neck's skin into the mask.
    plain = from_contrast(source, mask, skin, background) > 0.5
    assert plain[regions["wall"]].mean() >= 0.03


def test_only_the_old_garment_is_replaced(scene):
    """Through the engine with a short-sleeved tee: wall, skirt and bare forearms in the mask come out as they went in
    (up to rounding), while the cardigan's forearm sleeves, which the tee leaves open, no longer show cream."""
    source, mask, body, regions = scene
    garment = garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")
    frame = CropFrame(0, source, mask, source, FramePose(body))
    out = next(iter(WarpEngine().generate(SingleFrame(frame), garment, Quiet())))
    difference = np.abs(out.astype(int) - source).max(axis=2)
    for name in ("wall", "skirt", "bare forearms"):
        assert (difference[regions[name]] <= 2).mean() >= 0.9, name
    forearm_sleeves = np.zeros(mask.shape, np.uint8)
    for side in "rl":
        elbow, wrist = np.array(JOINTS[f"{side}_elbow"]), np.array(JOINTS[f"{side}_wrist"])
        cv2.line(
            forearm_sleeves,
            tuple(int(v) for v in elbow + (wrist - elbow) * 0.2),
            tuple(int(v) for v in elbow + (wrist - elbow) * 0.5),
            1,
            8,
        )
    sleeves = out[forearm_sleeves > 0].astype(float)
    assert np.abs(sleeves - CARDIGAN).max(axis=1).mean() > 20
