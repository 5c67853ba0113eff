"""Garment landmarks without a trained model: the silhouette estimate against points placed by hand
(tests/fixtures/garment_landmarks.json), drawn shorts and skirts, product-shot warnings, dataset checks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_cli.errors import InputError
from tryon_cli.io import read_image
from tryon_cli.preprocess.garment_landmarks import (
    FLIP_IDX,
    LAYOUT,
    SCHEMAS,
    detect_garment_landmarks,
    load_dataset_yaml,
    product_shot_warnings,
    silhouette_landmarks,
)
from tryon_cli.preprocess.garment_landmarks.silhouette import garment_silhouette
from tryon_cli.preprocess.keypoints import BODY_NAMES, DRAW_THRESHOLD

REPO = Path(__file__).resolve().parents[1]
HAND_PLACED = json.loads((REPO / "tests" / "fixtures" / "garment_landmarks.json").read_text())["garments"]
TOLERANCE = 0.04  # of the garment's height


def test_layout_schemas_and_flip_are_consistent():
    assert set(LAYOUT) <= set(BODY_NAMES)
    paper_upper = ("neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "l_hip")
    assert SCHEMAS["upper"] == paper_upper
    for names in SCHEMAS.values():
        assert set(names) <= set(LAYOUT)
    for i, j in enumerate(FLIP_IDX):
        mirrored = LAYOUT[i].replace("r_", "x_").replace("l_", "r_").replace("x_", "l_")
        assert LAYOUT[j] == mirrored
        assert FLIP_IDX[j] == i


def test_silhouette_fallback_orders_upper_landmarks_as_a_person_would(shared_data, weights_root):
    image = read_image(shared_data / "vivid" / "cloth" / "00057_00.jpg")
    landmarks, notes = detect_garment_landmarks(image, "upper")
    assert landmarks.estimated and any("estimated from the garment's silhouette" in n for n in notes)
    assert not any(n.startswith("warning") for n in notes)  # a clean product shot
    assert landmarks.names == SCHEMAS["upper"] and (landmarks.height, landmarks.width) == image.shape[:2]
    p = {name: point for name, point in zip(landmarks.names, landmarks.points)}
    assert all(p[n][2] > 0 for n in landmarks.names)
    assert p["r_wrist"][2] < DRAW_THRESHOLD and p["l_wrist"][2] < DRAW_THRESHOLD  # beyond the short sleeve
    # Front view: the garment's right side is on the image left.
    for part in ("shoulder", "elbow", "wrist", "hip"):
        assert p[f"r_{part}"][0] < p["neck"][0] < p[f"l_{part}"][0], part
    # Top to bottom, per side: shoulder above elbow above wrist; shoulders above hips; neck level with shoulders.
    for side in "rl":
        assert p[f"{side}_shoulder"][1] < p[f"{side}_elbow"][1] < p[f"{side}_wrist"][1]
        assert p[f"{side}_shoulder"][1] < p[f"{side}_hip"][1]
        assert abs(p["neck"][1] - p[f"{side}_shoulder"][1]) < 0.05 * image.shape[0]
    # Arms reach out further than the torso: elbows outside the shoulders, the shoulders outside the hips or level.
    assert p["r_elbow"][0] < p["r_shoulder"][0] and p["l_elbow"][0] > p["l_shoulder"][0]
    # Every point on the garment lies inside the image.
    on = landmarks.points[landmarks.points[:, 2] >= 0.5]
    assert ((on[:, 0] >= 0) & (on[:, 0] < image.shape[1]) & (on[:, 1] >= 0) & (on[:, 1] < image.shape[0])).all()


def test_silhouette_fallback_for_trousers_and_is_deterministic(shared_data):
    image = read_image(shared_data / "vivid" / "cloth" / "051985_1.jpg")
    first, second = silhouette_landmarks(image, "lower"), silhouette_landmarks(image, "lower")
    np.testing.assert_array_equal(first.points, second.points)
    p = dict(zip(first.names, first.points))
    for part in ("hip", "knee", "ankle"):
        assert p[f"r_{part}"][0] < p[f"l_{part}"][0]
    for side in "rl":
        assert p[f"{side}_hip"][1] < p[f"{side}_knee"][1] < p[f"{side}_ankle"][1]


def test_a_photo_that_is_not_a_product_shot_gets_a_warning():
    rng = np.random.default_rng(0)
    busy = rng.integers(0, 255, (128, 96, 3), dtype=np.uint8)
    assert product_shot_warnings(busy) and product_shot_warnings(busy)[0].startswith("warning:")
    plain = np.full((128, 96, 3), 245, np.uint8)
    plain[30:100, 20:76] = (20, 30, 120)
    assert product_shot_warnings(plain) == []


def test_unknown_category_is_a_clear_error():
    with pytest.raises(InputError, match="unknown garment category 'hat'; choose from upper, lower, dress"):
        silhouette_landmarks(np.zeros((8, 8, 3), np.uint8), "hat")


def garment_dataset_yaml(root: Path, images: str) -> dict:
    """The Ultralytics dataset yaml of a garment landmark set under `root` (`images`: train and val), as
    docs/preprocessing.md says it must be."""
    layout = {"kpt_shape": [13, 3], "flip_idx": list(FLIP_IDX), "names": {0: "upper", 1: "lower", 2: "dress"}}
    return {"path": str(root), "train": images, "val": images, **layout}


def test_dataset_yaml_is_checked_against_the_layout(tmp_path):
    good = garment_dataset_yaml(tmp_path, "images")
    import yaml

    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(good))
    assert load_dataset_yaml(path)["kpt_shape"] == [13, 3]
    for key, value, message in (
        ("kpt_shape", [17, 3], "kpt_shape must be \\[13, 3\\]"),
        ("names", ["shirt"], "names must be"),
        ("flip_idx", list(range(13)), "flip_idx must be"),
    ):
        path.write_text(yaml.safe_dump({**good, key: value}))
        with pytest.raises(InputError, match=message):
            load_dataset_yaml(path)
    with pytest.raises(InputError, match="not found"):
        load_dataset_yaml(tmp_path / "missing.yaml")


def test_a_skirt_has_knees_on_the_hem_and_no_ankles():
    image = np.full((200, 160, 3), 250, np.uint8)
    image[40:160, 40:120] = (200, 30, 30)  # one tube: no legs to follow
    landmarks = silhouette_landmarks(image, "lower")
    p = dict(zip(landmarks.names, landmarks.points))
    assert p["r_knee"][0] < p["l_knee"][0] and 150 <= p["r_knee"][1] <= 160 and p["r_knee"][2] > 0
    assert p["r_ankle"][2] == 0 and p["l_ankle"][2] == 0
    assert abs(p["r_hip"][1] - (40 + 0.4 * 80)) < 2  # hip joints 0.4 waist widths below the waistband


def _image(name: str, shared: Path | None) -> np.ndarray:
    if name.startswith("shared:"):
        if shared is None:
            pytest.skip("shared data not found")
        return read_image(shared / name.removeprefix("shared:"))
    return read_image(REPO / name)


@pytest.mark.parametrize("garment", HAND_PLACED, ids=[Path(g["image"]).stem for g in HAND_PLACED])
def test_the_estimate_finds_the_hand_placed_points_on_the_garments_outline(garment, request):
    shared = request.getfixturevalue("shared_data") if garment["image"].startswith("shared:") else None
    image = _image(garment["image"], shared)
    landmarks = silhouette_landmarks(image, garment["category"])
    found = dict(zip(landmarks.names, landmarks.points))
    rows = np.flatnonzero(garment_silhouette(image).any(axis=1))
    tolerance = TOLERANCE * (rows.max() - rows.min())
    misses = {
        name: (found[name][:2].round().tolist(), point["xy"])
        for name, point in garment["points"].items()
        if found[name][2] < DRAW_THRESHOLD or np.linalg.norm(found[name][:2] - point["xy"]) > tolerance
    }
    assert not misses, f"(estimate, by hand) beyond {tolerance:.0f} px: {misses}"
    for name in garment.get("off_garment", []):
        assert 0 < found[name][2] < DRAW_THRESHOLD, name
    for name in garment.get("absent", []):
        assert found[name][2] == 0, name


def _drawn(polygon: list[tuple[int, int]], size: tuple[int, int] = (400, 300)) -> np.ndarray:
    image = np.full((*size, 3), 248, np.uint8)
    cv2.fillPoly(image, [np.array(polygon, np.int32)], (40, 60, 150))
    return image


def _points(image: np.ndarray, category: str) -> dict[str, np.ndarray]:
    landmarks = silhouette_landmarks(image, category)
    return dict(zip(landmarks.names, landmarks.points))


def test_shorts_have_their_knees_at_the_leg_ends_and_ankles_only_as_a_direction():
    # Waistband y 60 (x 80..220), crotch at (150, 160), legs ending at y 220: legs shorter than the rise's 1.2.
    shorts = _drawn([(80, 60), (220, 60), (230, 220), (160, 220), (150, 160), (140, 220), (70, 220)])
    p = _points(shorts, "lower")
    for side, leg_centre in (("r", 105), ("l", 195)):
        assert p[f"{side}_knee"][2] >= DRAW_THRESHOLD
        assert abs(p[f"{side}_knee"][0] - leg_centre) < 8 and 205 <= p[f"{side}_knee"][1] <= 222
        assert 0 < p[f"{side}_ankle"][2] < DRAW_THRESHOLD and p[f"{side}_ankle"][1] > 222
    # Hips 0.35 rises (100 px) above the crotch: y 125.
    assert abs(p["r_hip"][1] - 125) < 4 and p["r_hip"][0] < 150 < p["l_hip"][0]


def test_long_trousers_put_ankles_on_the_leg_hems():
    trousers = _drawn([(80, 40), (220, 40), (230, 380), (165, 380), (150, 130), (135, 380), (70, 380)])
    p = _points(trousers, "lower")
    for side in "rl":
        assert p[f"{side}_ankle"][2] >= DRAW_THRESHOLD and p[f"{side}_ankle"][1] > 365
        assert p[f"{side}_hip"][1] < p[f"{side}_knee"][1] < p[f"{side}_ankle"][1]
    assert abs(p["r_ankle"][0] - 102) < 8 and abs(p["l_ankle"][0] - 198) < 8


def test_an_a_line_skirt_has_knees_on_the_hem_and_no_ankles():
    skirt = _drawn([(100, 60), (200, 60), (250, 300), (50, 300)])
    p = _points(skirt, "lower")
    assert p["r_ankle"][2] == 0 and p["l_ankle"][2] == 0
    assert 290 <= p["r_knee"][1] <= 300 and p["r_knee"][0] < 150 < p["l_knee"][0]


def test_the_hips_sit_on_the_body_s_hem_not_on_a_sleeve_hanging_lower():
    """A top whose left sleeve hangs close beside the body and below its hem, without a gap the outline could
    separate (gallery T6's black top): the hips sit on the body's hem, about its middle, not on the cuff."""
    body_and_sleeve = [(60, 40), (250, 40), (250, 360), (222, 360), (222, 300), (60, 300)]
    p = _points(_drawn(body_and_sleeve), "upper")
    for side in "rl":
        assert 280 <= p[f"{side}_hip"][1] <= 300
    assert 60 < p["r_hip"][0] < 100 and 180 < p["l_hip"][0] < 236  # the cuff: x 222-250
    assert abs((p["r_hip"][0] + p["l_hip"][0]) / 2 - 141) < 0.1 * 162


def test_both_sleeves_hanging_below_the_hem_are_found():
    """Long sleeves hanging close beside the body and below its hem, their armpits at different depths: one hull
    edge spans both, and its one concavity is the deeper armpit; each side's own is found (T6's black top lost its
    left sleeve to the torso)."""
    image = np.full((400, 300, 3), 248, np.uint8)
    for corner, opposite in (
        ((40, 60), (260, 100)),  # the shoulders
        ((80, 100), (220, 300)),  # the body, hem at y 300
        ((40, 100), (70, 340)),  # the sleeves, to y 340
        ((230, 100), (260, 340)),
        ((70, 100), (80, 120)),  # the image-left armpit 20 px lower than the right one
    ):
        cv2.rectangle(image, corner, opposite, (40, 60, 150), -1)
    p = _points(image, "upper")
    for side, x in (("r", 55), ("l", 245)):
        assert p[f"{side}_wrist"][2] >= DRAW_THRESHOLD and abs(p[f"{side}_wrist"][0] - x) < 6
        assert p[f"{side}_wrist"][1] > 330 and p[f"{side}_shoulder"][1] < p[f"{side}_elbow"][1] < 330


def test_any_blob_gets_finite_landmarks_inside_the_photo():
    """Rectangles, ellipses, random polygons and thin lines: no shape breaks the estimate, every placed point is
    finite and inside the photo (off-garment ones are clipped to it)."""
    rng = np.random.default_rng(0)
    for trial in range(40):
        image = np.full((200, 160, 3), 250, np.uint8)
        kind = trial % 4
        if kind == 0:
            cv2.rectangle(
                image,
                (int(rng.integers(5, 70)), int(rng.integers(5, 90))),
                (int(rng.integers(80, 155)), int(rng.integers(100, 195))),
                (30, 40, 150),
                -1,
            )
        elif kind == 1:
            cv2.ellipse(
                image,
                (80, 100),
                (int(rng.integers(5, 70)), int(rng.integers(5, 90))),
                float(rng.integers(0, 180)),
                0,
                360,
                (30, 40, 150),
                -1,
            )
        elif kind == 2:
            corners = rng.integers(0, [160, 200], (int(rng.integers(3, 9)), 2)).astype(np.int32)
            cv2.fillPoly(image, [corners], (30, 40, 150))
        else:
            cv2.line(
                image,
                (int(rng.integers(0, 160)), 0),
                (int(rng.integers(0, 160)), 199),
                (30, 40, 150),
                int(rng.integers(1, 4)),
            )
        for category in ("upper", "lower", "dress"):
            points = silhouette_landmarks(image, category).points
            placed = points[points[:, 2] > 0]
            assert np.isfinite(placed).all(), (trial, category)
            assert ((placed[:, 0] >= 0) & (placed[:, 0] < 160) & (placed[:, 1] >= 0) & (placed[:, 1] < 200)).all(), (
                trial,
                category,
                placed,
            )


def test_a_hood_standing_above_the_shoulders_is_not_taken_for_them():
    """A hoodie with its hood up on the photo: the hood's sides drop steeply from its top corners to the shoulder
    line, which then runs on to the sleeves. The shoulders are found where the sleeves begin, not on the hood (as
    on T5's hoodie, whose shoulders were put on the hood's corners)."""
    hoodie = _drawn(
        [(125, 30), (175, 30), (180, 85), (230, 100), (270, 200), (245, 210), (210, 140), (205, 320), (95, 320),
         (90, 140), (55, 210), (30, 200), (70, 100), (120, 85)]
    )  # fmt: skip
    points = _points(hoodie, "upper")
    for name, x in (("r_shoulder", 70), ("l_shoulder", 230)):
        assert abs(points[name][0] - x) < 15 and abs(points[name][1] - 100) < 12, (name, points[name])


def _hoodie_laid_flat(shadow: bool) -> np.ndarray:
    """A camel hoodie photographed as T5's: long sleeves laid down along the body from the shoulders to below the
    hem (no armpit in the outline), gaps between the cuffs and the narrower hem band; with `shadow`, a soft grey
    drop shadow (the backdrop darkened by up to 60 levels, 12 px right and down) fills those gaps, as on the photo."""
    garment = np.zeros((400, 300), np.uint8)
    cv2.fillPoly(garment, [np.array([(110, 50), (190, 50), (250, 80), (210, 80), (90, 80), (50, 80)], np.int32)], 1)
    cv2.rectangle(garment, (90, 80), (210, 260), 1, -1)  # the body
    cv2.rectangle(garment, (100, 260), (200, 300), 1, -1)  # its narrower hem band, to y 300
    cv2.rectangle(garment, (50, 80), (90, 340), 1, -1)  # the sleeves, cuffs to y 340
    cv2.rectangle(garment, (210, 80), (250, 340), 1, -1)
    photo = np.full((400, 300, 3), 240, np.float32)
    if shadow:
        cast = cv2.GaussianBlur(np.roll(garment, (12, 12), axis=(0, 1)).astype(np.float32), (0, 0), 5)
        photo *= 1 - 0.25 * cast[..., None]
    photo[garment > 0] = (170, 135, 95)
    return photo.astype(np.uint8)


def test_a_drop_shadow_under_the_hem_does_not_move_the_hips():
    """T5's hoodie: a soft grey shadow under its hem and between its cuffs and the hem was read as garment, the hem
    under the body's middle was found on the shadow's lower edge and the hips put on the cuffs. Its landmarks are
    read on the outline without the shadow: the hips on the body's hem, inside the body, as without a shadow."""
    plain = _points(_hoodie_laid_flat(shadow=False), "upper")
    shaded = _points(_hoodie_laid_flat(shadow=True), "upper")
    for side in "rl":
        assert 280 <= shaded[f"{side}_hip"][1] <= 300 and 100 < shaded[f"{side}_hip"][0] < 200, shaded[f"{side}_hip"]
        assert np.abs(shaded[f"{side}_hip"][:2] - plain[f"{side}_hip"][:2]).max() <= 3


def _sweatshirt_sleeves_down(seams: bool) -> np.ndarray:
    """A camel sweatshirt laid flat as the photo of T5's hoodie shows it: dropped shoulders, the long sleeves flat
    against the body's sides down to the hem, the cuffs flush with it, so that the outline is convex and has no
    armpit. With `seams`, the seams between the sleeves and the body (x 95 and 205, from y 110 to the hem), as the
    photo shows them: a line 2 px wide and 40 levels darker."""
    photo = np.full((400, 300, 3), 248, np.uint8)
    outline = [(110, 50), (190, 50), (230, 80), (255, 170), (255, 330), (45, 330), (45, 170), (70, 80)]
    cv2.fillPoly(photo, [np.array(outline, np.int32)], (170, 135, 95))
    if seams:
        for x in (95, 205):
            photo[110:326, x - 1 : x + 1] -= 40
    return photo


def test_sleeves_laid_down_against_the_body_are_found_by_their_seams():
    """T5's hoodie: its sleeves lie against the body down to the cuffs, so the outline has no armpit and the hoodie
    was drawn as a wide body without sleeves. The seam between sleeve and body marks them: each wrist is found at
    its cuff, each elbow on its sleeve, and the hips inside the body. Without the seams nothing tells sleeve from
    body, and no sleeve is found."""
    seamed = _points(_sweatshirt_sleeves_down(seams=True), "upper")
    for side, (x0, x1) in (("r", (45, 95)), ("l", (205, 255))):
        elbow, wrist = seamed[f"{side}_elbow"], seamed[f"{side}_wrist"]
        assert elbow[2] >= DRAW_THRESHOLD and wrist[2] >= DRAW_THRESHOLD, (side, elbow, wrist)
        assert x0 < wrist[0] < x1 and wrist[1] > 310, (side, wrist)
        assert x0 < elbow[0] < x1 and 150 < elbow[1] < 260, (side, elbow)
        assert 95 < seamed[f"{side}_hip"][0] < 205, seamed[f"{side}_hip"]
    plain = _points(_sweatshirt_sleeves_down(seams=False), "upper")
    assert all(plain[f"{side}_{joint}"][2] == 0 for side in "rl" for joint in ("elbow", "wrist")), plain


def test_a_sleeveless_top_with_lines_down_its_sides_grows_no_sleeves():
    """A sleeveless top whose outline falls straight from its shoulders (no armpit either) and whose print has long
    lines down its sides: lines where a laid-down sleeve's seams would be, but nothing of the garment lies beyond
    the shoulders, so there is no sleeve to find."""
    photo = _drawn([(90, 60), (210, 60), (210, 320), (90, 320)])
    for x in (110, 190):
        photo[110:310, x - 1 : x + 1] = (10, 20, 90)
    points = _points(photo, "upper")
    assert all(points[f"{side}_{joint}"][2] == 0 for side in "rl" for joint in ("elbow", "wrist")), points


def test_sleeves_that_go_on_along_the_shoulders_slope_are_not_taken_for_shoulders():
    """A tee whose short sleeves stand out along the shoulders' own slope (T7's polygon tee): the top outline never
    drops steeply before the sleeves' ends, and the walk put the shoulder points there, leaving a sliver of sleeve
    that ended inward of them. The shoulder points sit above the armpits, where the sleeves' seams run, and each
    sleeve runs outward from there."""
    tee = _drawn(
        [(115, 60), (185, 60), (215, 75), (262, 106), (244, 142), (212, 128), (215, 330), (85, 330), (88, 128),
         (56, 142), (38, 106), (85, 75)]
    )  # fmt: skip
    p = _points(tee, "upper")
    for side, armpit_x, sign in (("r", 88, -1), ("l", 212, 1)):
        shoulder = p[f"{side}_shoulder"]
        assert abs(shoulder[0] - armpit_x) < 10 and shoulder[1] < 85, (side, shoulder)
        assert p[f"{side}_elbow"][2] >= DRAW_THRESHOLD, side
        assert (p[f"{side}_elbow"][0] - shoulder[0]) * sign > 15, (side, p[f"{side}_elbow"])


@pytest.mark.parametrize(
    "outline",
    [
        [(199, 183), (146, 223), (119, 213), (73, 185), (65, 106), (90, 112), (87, 94), (107, 80), (131, 119),
         (164, 107), (166, 125), (194, 118)],
        [(143, 256), (123, 230), (112, 240), (91, 164), (83, 163), (47, 101), (69, 57), (100, 72), (97, 49),
         (131, 117), (161, 57), (202, 93)],
    ],
)  # fmt: skip
def test_a_sleeve_cut_through_the_body_leaves_the_torso(outline):
    """Star-shaped outlines (found by drawing 3,000 random ones, 34 broke) on which a side's cut from its shoulder
    point to its armpit went through the body: the two "sleeves" took the whole garment, no torso was left, and
    finding its hem raised a ValueError. A sleeve as large as what it leaves of the torso is no sleeve."""
    image = np.full((300, 240, 3), 248, np.uint8)
    cv2.fillPoly(image, [np.array(outline, np.int32)], (40, 60, 150))
    for category in ("upper", "dress"):
        points = _points(image, category)
        for side in "rl":
            hip = points[f"{side}_hip"]
            assert hip[2] > 0 and 0 <= hip[0] < 240 and 0 <= hip[1] < 300, (category, side, hip)
