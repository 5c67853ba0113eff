"""Garment photos as users have them (issue 25, item 3): a white garment on a white background is separated, a
transparent render loses its drop shadow, and a photo that is not one whole garment of the asked category alone
on a plain background is refused with one line, before the person video is decoded; every shared garment photo
either dresses a shared clip or is refused."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tryon_cli.engines.warp.matte import garment_alpha
from tryon_cli.errors import InputError
from tryon_cli.io import read_frames, read_garment_photo
from tryon_cli.preprocess.garment_landmarks.estimate import silhouette_landmarks
from tryon_cli.preprocess.garment_landmarks.photo_check import check_garment_photo
from tryon_cli.preprocess.garment_landmarks.silhouette import separate

REPO = Path(__file__).resolve().parents[1]
# A T-shirt laid flat, in a 300x400 photo: body, sleeves spread, a round neck.
TEE = [(110, 80), (190, 80), (240, 110), (265, 170), (225, 185), (215, 160), (215, 330), (85, 330), (85, 160),
       (75, 185), (35, 170), (60, 110)]  # fmt: skip
TROUSERS = [(100, 60), (200, 60), (215, 340), (165, 340), (150, 160), (135, 340), (85, 340)]


def _photo(polygons, garment=(244, 244, 244), background=(250, 250, 250), size=(400, 300), noise=1.0, seed=0):
    """A product photo: each polygon filled with `garment`, shaded a little, on `background`, with JPEG-like noise."""
    rng = np.random.default_rng(seed)
    image = np.empty((*size, 3), np.float32)
    image[:] = background
    truth = np.zeros(size, np.uint8)
    for polygon in polygons:
        cv2.fillPoly(truth, [np.array(polygon, np.int32)], 1)
    shade = np.linspace(-2, 2, size[0], dtype=np.float32)[:, None, None]  # light from above, as in a studio
    image = np.where(truth[..., None] > 0, np.array(garment, np.float32) + shade, image)
    image += rng.normal(0, noise, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), truth.astype(bool)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_white_tee_on_a_white_background_is_separated():
    """6 levels darker than the backdrop (a white tee on white paper): the strong threshold (18) found nothing."""
    photo, truth = _photo([TEE])
    assert _iou(separate(photo).mask, truth) > 0.95
    alpha = garment_alpha(photo)
    assert (alpha[truth] > 0.5).mean() > 0.95 and (alpha[~truth] > 0.5).mean() < 0.01


def test_a_white_tee_with_a_print_is_the_tee_not_its_print():
    photo, truth = _photo([TEE])
    cv2.rectangle(photo, (120, 150), (180, 220), (200, 40, 40), -1)  # the print stands out; the tee barely does
    assert _iou(separate(photo).mask, truth) > 0.95


def test_a_dark_garment_keeps_its_soft_shadow_out():
    """The faint threshold only fills in light patches inside the garment's outline: a soft shadow beside a dark
    tee, 4-10 levels darker than the backdrop, stays background."""
    photo, truth = _photo([TEE], garment=(40, 50, 90), background=(246, 246, 246))
    shadow = np.zeros(truth.shape, np.uint8)
    cv2.ellipse(shadow, (150, 340), (110, 14), 0, 0, 360, 1, -1)  # from under the hem
    shadow = shadow.astype(bool) & ~truth
    photo[shadow] = photo[shadow] - 8
    mask = separate(photo).mask
    beside = shadow & ~cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # the noise blur
    assert _iou(mask, truth) > 0.95 and not (mask & beside).any()


def test_a_transparent_render_loses_its_drop_shadow_and_is_laid_on_light_grey(tmp_path):
    """A white hoodie render with a black drop shadow at alpha 80 (as the shared product renders have): composited
    on white, the shadow became a grey hem and the hoodie's white edge melted into the backdrop."""
    truth = np.zeros((400, 300), np.uint8)
    cv2.fillPoly(truth, [np.array(TEE, np.int32)], 1)
    rgba = np.zeros((400, 300, 4), np.uint8)
    rgba[truth > 0] = (253, 253, 253, 255)
    cv2.ellipse(rgba, (150, 360), (100, 12), 0, 0, 360, (0, 0, 0, 80), -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "hoodie.png")
    photo = read_garment_photo(tmp_path / "hoodie.png")
    assert (photo[truth == 0] == 246).all()  # the backdrop, no shadow
    assert _iou(separate(photo).mask, truth.astype(bool)) > 0.95


def _refusal(photo, category="upper") -> str:
    with pytest.raises(InputError) as caught:
        check_garment_photo(photo, category, name="shirt.jpg")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("shirt.jpg: ")
    return message


def test_a_product_photo_of_one_garment_passes():
    check_garment_photo(_photo([TEE], garment=(40, 50, 90))[0], "upper")
    check_garment_photo(_photo([TROUSERS], garment=(40, 50, 90))[0], "lower")


def test_trousers_given_as_an_upper_garment_name_the_lower_category():
    assert "--category lower" in _refusal(_photo([TROUSERS], garment=(40, 50, 90))[0])


def test_a_long_sleeved_top_whose_cuffs_hang_below_its_hem_is_no_pair_of_trousers():
    sleeves_down = [(110, 60), (190, 60), (235, 90), (255, 345), (230, 345), (215, 160), (215, 320), (85, 320),
                    (85, 160), (70, 345), (45, 345), (65, 90)]  # fmt: skip
    check_garment_photo(_photo([sleeves_down], garment=(40, 50, 90))[0], "upper")


def test_several_garments_in_one_photo_are_refused():
    top = [(x // 2 + 20, y // 2 + 10) for x, y in TEE]
    bottom = [(x // 2 + 80, y // 2 + 200) for x, y in TROUSERS]
    assert "separate garments" in _refusal(_photo([top, bottom], garment=(40, 50, 90))[0])


def test_a_garment_cut_off_by_the_photo_edge_is_refused():
    worn = [(x, y + 90) for x, y in TEE]  # its hem runs off the bottom
    assert "runs off the photo's bottom edge" in _refusal(_photo([worn], garment=(40, 50, 90))[0])


def test_a_garment_on_grass_is_refused():
    photo, truth = _photo([TEE], garment=(240, 240, 240))
    grass = np.random.default_rng(1).integers(0, 120, photo.shape).astype(np.uint8)
    photo[~truth] = grass[~truth]
    assert "not plain" in _refusal(photo)


def test_a_hood_up_is_looked_past_and_one_too_tall_to_be_a_hood_is_refused():
    """A hood raised above the shoulders was the outline's top, and the estimate took its peak for both shoulders:
    a garment placed by them is a crumpled fragment. A hood up to a quarter of the garment's height is looked past
    (`estimate.HOOD_DROP`: the shoulders are found below it, and the photo dresses the person); a raised hood or
    collar taller than that still hides the shoulders, and the photo is refused. The same top without a hood
    passes."""
    photo = np.full((480, 360, 3), 248, np.uint8)
    top = [(120, 170), (150, 160), (210, 160), (240, 170), (320, 230), (290, 280), (260, 250), (260, 440)]
    top += [(100, 440), (100, 250), (70, 280), (40, 230)]
    cv2.fillPoly(photo, [np.array(top, np.int32)], (200, 200, 205))
    check_garment_photo(photo, "upper")
    hooded = photo.copy()
    cv2.fillPoly(hooded, [np.array([(115, 172), (140, 95), (220, 95), (245, 172)], np.int32)], (200, 200, 205))
    check_garment_photo(hooded, "upper")  # the hood's sides drop 0.22 of the garment's height
    landmarks = silhouette_landmarks(hooded, "upper")
    shoulders = landmarks.points[[landmarks.names.index(n) for n in ("r_shoulder", "l_shoulder")]]
    assert (shoulders[:, 1] > 165).all(), shoulders  # on the shoulder line below the hood, not its top (95)
    cv2.fillPoly(photo, [np.array([(115, 172), (180, 10), (245, 172)], np.int32)], (200, 200, 205))
    with pytest.raises(InputError, match="shows no shoulders"):
        check_garment_photo(photo, "upper")  # 0.37 of it, to a peak taken for both shoulders


def test_a_dress_given_as_an_upper_garment_is_refused():
    dress = [(125, 10), (175, 10), (190, 80), (180, 140), (215, 390), (85, 390), (120, 140), (110, 80)]  # 2.9:1
    assert "--category dress" in _refusal(_photo([dress], garment=(40, 50, 90))[0])
    check_garment_photo(_photo([dress], garment=(40, 50, 90))[0], "dress")


# Every garment photo of the shared data, with its category, and what must become of it: the words of its refusal,
# or None: it dresses the person of a shared clip.
WILD = {
    "dress/dreamo_gown.png": ("dress", None),
    "dress/fashionchameleon_case4_white_dress.png": ("dress", None),
    "dress/omnitry_dress_on_model.jpg": ("dress", "runs off the photo's top edge"),
    "lower/omnitry_shorts_on_model.jpg": ("lower", "runs off the photo's"),
    "outfit/dreamfit_flatlay_outfit.jpg": ("upper", "separate garments"),
    "outfit/fashionchameleon_case2_top_and_skirt.png": ("upper", "give the top alone"),
    "upper/catvtonflux_00034_00.jpg": ("upper", None),
    "upper/catvtonflux_00064_00.jpg": ("upper", None),
    "upper/dreamo_shirt.png": ("upper", None),
    "upper/fashionchameleon_case1_sweater.png": ("upper", None),
    "upper/fashionchameleon_case3_white_tee.png": ("upper", None),
    "upper/fashn_black_tee_on_model.webp": ("upper", "runs off the photo's bottom edge"),
    "upper/imagdressing_1.jpg": ("upper", None),
    "upper/insertanything_jersey_on_grass.png": ("upper", "not plain"),
    "upper/ominicontrol_tshirt.jpg": ("upper", None),
    "upper/omnitry_hoodie.jpg": ("upper", None),
    "upper/saleor-dark-polygon-tee-front.png": ("upper", None),
    "upper/saleor-monospace-white-tee-front.png": ("upper", None),
    "upper/saleor-polo-shirt-front.png": ("upper", None),
    "upper/saleor-white-hoodie.png": ("upper", "shows no shoulders"),
}
CLIPS = {"upper": "vivid/videos/upper1.mp4", "lower": "vivid/videos/lower1.mp4", "dress": "vivid/videos/upper1.mp4"}
CHANGED_LEVELS = 16  # as benchmarks/gallery.py: h264 noise stays below it
# The share of the frame a drawn garment changes, at least: upper1's frame 0 is a side view, where the white tee on
# her cream cardigan, ending at its hem, changes 0.019 of the frame; a frame left undressed changes 0.000 (the long
# gown before the far sleeve was judged by the fit check: 0.00001).
DRAWN = 0.01


def test_the_shared_garment_photos_are_all_listed(shared_data):
    listed = {
        str(p.relative_to(shared_data / "wild" / "garments")) for p in (shared_data / "wild/garments").rglob("*.*")
    }
    assert listed == set(WILD)


@pytest.mark.parametrize(
    "name", [name for name, (_, refusal) in WILD.items() if refusal], ids=lambda n: n.split("/")[1]
)
def test_a_shared_photo_that_cannot_be_dressed_is_refused_in_one_line(shared_data, name):
    category, refusal = WILD[name]
    with pytest.raises(InputError, match=refusal):
        check_garment_photo(read_garment_photo(shared_data / "wild" / "garments" / name), category)


@pytest.mark.slow
def test_every_other_shared_photo_dresses_a_shared_clip(shared_data, tmp_path):
    """One frame of a ViViD clip per photo, through the application as `dpidm tryon --model warp` runs it: the
    person's garment region changes (the new garment is drawn) and the run raises nothing."""
    from tryon_cli.engines.warp import WarpEngine
    from tryon_cli.tryon.application import run_tryon
    from tryon_cli.tryon.settings import TryOnSettings

    engine = WarpEngine()
    for name, (category, refusal) in WILD.items():
        if refusal:
            continue
        video = shared_data / CLIPS[category]
        out = tmp_path / f"{Path(name).stem}.mp4"
        run_tryon(engine, video, shared_data / "wild" / "garments" / name, out, TryOnSettings(category, frames=(0, 1)))
        for source, result in zip(read_frames(video, 0, 1), read_frames(out)):
            changed = np.abs(result.astype(int) - source.astype(int)).max(axis=2) > CHANGED_LEVELS
            assert changed.mean() > DRAWN, f"{name}: {changed.mean():.3f} of the frame changed"


def test_the_cli_refuses_trousers_as_an_upper_garment_in_one_line_before_the_video_is_decoded(shared_data, tmp_path):
    """R1 of the gallery: exit 2, one `error:` line naming --category lower, no output; the person video is
    probed, never decoded (a decode of this clip, pose and engine would take tens of seconds, not this)."""
    out = tmp_path / "out.mp4"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tryon_cli", "tryon", str(shared_data / "vivid/videos/upper1.mp4"),
         str(REPO / "examples" / "garment_lower_051985_1.jpg"), "-o", str(out), "--model", "warp"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "--category lower" in lines[0] and not out.exists()
    assert time.perf_counter() - start < 30
