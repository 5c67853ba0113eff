"""Crop boxes, crop/uncrop warps and feathered paste-back (pure functions, no model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_cli.errors import InputError
from tryon_cli.preprocess.crop import PAD_VALUE, crop
from tryon_cli.tryon import compositing, framing
from tryon_cli.tryon.batch import read_pairs


def test_crop_then_uncrop_puts_pixels_back_where_they_were():
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8), (0, 0), 3)
    box = np.array([50.0, 10.0, 110.0, 90.0])  # 60 x 80: 3:4, scaled 2x into a 160 x 120 crop
    cut = crop(frame, box, 160, 120)
    back = compositing.uncrop(cut, box, 120, 200)
    inner = (slice(12, 88), slice(52, 108))
    assert np.abs(back[inner].astype(int) - frame[inner]).mean() < 2.0
    # Outside the box nothing comes back.
    assert back[:, :48].max() == 0 and back[:, 112:].max() == 0


def test_crop_pads_outside_the_frame_with_grey():
    frame = np.zeros((100, 100, 3), np.uint8)
    cut = crop(frame, np.array([-50.0, 0.0, 25.0, 100.0]), 40, 30)
    assert (cut[:, :10] == PAD_VALUE).all() and (cut[:, -5:] == 0).all()


def test_feather_alpha_is_one_on_mask_and_zero_beyond_twice_the_feather():
    mask = np.zeros((80, 80), bool)
    mask[30:50, 30:50] = True
    feather = 4
    alpha = compositing.feather_alpha(mask, feather)
    assert (alpha[mask] == 1).all()
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((4 * feather + 3, 4 * feather + 3), np.uint8)).astype(bool)
    assert (alpha[~grown] == 0).all()
    assert 0 < alpha[40, 30 - feather - 1] < 1  # a soft edge, not a step


def test_paste_leaves_pixels_outside_the_alpha_bit_exact():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    alpha = np.zeros((40, 50), np.float32)
    alpha[10:20, 10:20] = 1.0
    alpha[20, 10:20] = 0.5
    out = compositing.paste(frame, generated, alpha)
    assert np.array_equal(out[alpha == 0], frame[alpha == 0])
    assert np.array_equal(out[alpha == 1], generated[alpha == 1])
    mixed = (frame[20, 10:20].astype(float) + generated[20, 10:20]) / 2
    assert np.abs(out[20, 10:20] - mixed).max() <= 0.5


def test_crop_boxes_follow_the_person_at_the_model_aspect():
    # A person 100 px tall walking right across a landscape frame, lost for frames 10-12.
    frames = 30
    body = np.zeros((frames, 18, 3), np.float32)
    for t in range(frames):
        body[t, 1] = (100 + 10 * t, 200, 1.0)  # neck
        body[t, 10] = (100 + 10 * t, 300, 1.0)  # ankle
        body[t, 4] = (80 + 10 * t, 250, 1.0)  # wrist
    body[10:13] = 0
    boxes = framing.crop_boxes(body, 640, 360, 512, 384, radius=4)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    np.testing.assert_allclose(h / w, 512 / 384)
    for t in range(frames):
        if not 10 <= t < 13:
            x0, y0, x1, y1 = boxes[t]
            assert x0 <= body[t, 4, 0] and x1 >= body[t, 1, 0] and y0 <= 200 and y1 >= 300
    centres = (boxes[:, 0] + boxes[:, 2]) / 2
    assert np.all(np.diff(centres) >= 0)  # moves with the person, never back
    assert h.max() < 360  # fits the person, not the whole frame


def test_pairs_file_resolves_paths_and_names_outputs(tmp_path):
    (tmp_path / "list").mkdir()
    pairs_file = tmp_path / "list" / "pairs.txt"
    pairs_file.write_text("# video garment\nv/a.mp4 g/x.jpg\n\n'v/b c.mp4' g/y.jpg dress  # trailing note\n")
    pairs = read_pairs(pairs_file, tmp_path / "out")
    assert [p.video for p in pairs] == [tmp_path / "list/v/a.mp4", tmp_path / "list/v/b c.mp4"]
    assert [p.category for p in pairs] == [None, "dress"]
    assert [p.output.name for p in pairs] == ["a__x.mp4", "b c__y.mp4"]
    pairs_file.write_text("a.mp4 x.jpg\na.mp4 x.jpg\n")
    with pytest.raises(InputError, match="pairs.txt:2: same output"):
        read_pairs(pairs_file, tmp_path / "out")
    pairs_file.write_text("a.mp4 x.jpg shirt\n")
    with pytest.raises(InputError, match="pairs.txt:1: expected"):
        read_pairs(pairs_file, tmp_path / "out")
