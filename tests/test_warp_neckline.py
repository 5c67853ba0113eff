"""The garment's corners by the head rounded off (`dress.head_corners`): the steps that the neck line and the face
boxes cut beside the neck become curves; nothing is drawn anew, and away from the head nothing changes."""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.dress import NECKLINE, head_corners

CROP = 512  # crop height: the radius is NECKLINE * CROP pixels
RADIUS = round(NECKLINE * CROP)


def _stepped_top() -> tuple[np.ndarray, np.ndarray]:
    """A tee's top edge at row 100, with a face box (rows 0-129, columns 200-299) cut into it: a 30-pixel step down
    on either side of the neck; and the head."""
    drawn = np.zeros((400, 500), bool)
    drawn[100:380, 50:450] = True
    head = np.zeros_like(drawn)
    head[0:130, 200:300] = True
    return drawn & ~head, head


def test_the_steps_beside_the_neck_are_rounded_off():
    drawn, head = _stepped_top()
    corners = head_corners(drawn, head, CROP) > 0
    # The two corners where the top edge meets the box's sides are gone, to a curve: on the diagonal from each
    # corner, the pixel 2 in is removed and the pixel past the radius kept.
    for corner_x, inward in ((199, -1), (300, 1)):
        assert corners[101, corner_x]
        assert corners[102, corner_x + 2 * inward]
        assert not corners[100 + RADIUS + 2, corner_x + (RADIUS + 2) * inward]
    # A curve, not a new straight cut: the removed run along the top edge shortens with depth.
    left_runs = [corners[row, :200].sum() for row in (100, 104, 108)]
    assert left_runs[0] > left_runs[1] > left_runs[2] >= 0


def test_nothing_is_drawn_anew_and_nothing_changes_away_from_the_head():
    drawn, head = _stepped_top()
    corners = head_corners(drawn, head, CROP) > 0
    assert not (corners & ~drawn).any()
    # Farther than the radius from the head nothing is removed: the hem's corners (row 379, columns 50 and 449) and
    # the top edge's outer corners (row 100, columns 50 and 449) stay square.
    far = np.ones_like(drawn)
    far[: 130 + 2 * RADIUS + 1, 200 - 2 * RADIUS - 1 : 300 + 2 * RADIUS + 1] = False
    assert not (corners & far).any()


def test_a_part_wider_than_the_disc_beside_the_head_loses_only_its_end_corner():
    # A strip of garment 30 pixels wide (the disc is 21 across) running up along the head's side: the corner of its
    # end by the head is rounded off; the rest of it, beside the head too, stays whole and in one piece.
    drawn = np.zeros((300, 300), bool)
    drawn[40:260, 100:130] = True
    head = np.zeros_like(drawn)
    head[20:120, 130:210] = True
    corners = head_corners(drawn, head, CROP) > 0
    assert corners[40, 129] and not corners[40, 100]
    assert not corners[60:].any()
    pieces, _ = cv2.connectedComponents((drawn & ~corners).astype(np.uint8))
    assert pieces - 1 == 1
