"""`dress.carry_over`: near its outline the drawn garment is half the last frame's, moved along the source's flow,
so the outline does not jitter; the last frame's garment never reaches where this frame may not draw, and far from
this frame's outline nothing of it is carried (no ghost of a garment that moved more than the flow)."""

from __future__ import annotations

import numpy as np

from tryon_cli.engines.warp.dress import CARRY, carry_over

H, W = 60, 80


def _layer(x0: int, x1: int, y0: int = 10, y1: int = 50, colour=(20.0, 40.0, 200.0)) -> np.ndarray:
    """A premultiplied RGBA block of `colour` over columns x0:x1 and rows y0:y1."""
    layer = np.zeros((H, W, 4), np.float32)
    layer[y0:y1, x0:x1, :3] = colour
    layer[y0:y1, x0:x1, 3] = 1.0
    return layer


def _last(layer: np.ndarray, origin: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, tuple[int, int]]:
    """The last frame's drawn garment as the dresser keeps it: the layer of its box and the box's origin."""
    return layer, origin


def _flow(dx: float) -> np.ndarray:
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = dx
    return flow


def test_a_garment_moving_with_the_flow_is_drawn_as_it_is():
    """The last frame's garment, moved by the flow, is this frame's: the average changes nothing."""
    now = _layer(23, 53)
    out = carry_over(now, _last(_layer(20, 50)), _flow(3.0), np.ones((H, W), np.float32), (0, 0), band=2)
    assert np.allclose(out, now, atol=1e-4)


def test_an_outline_that_jitters_against_the_flow_is_averaged_near_it_and_nowhere_else():
    """The source stands still and the drawn outline steps 2 pixels right: within the band the pixel that just
    changed is half the last frame's (its alpha halfway), the inside and the far background are this frame's."""
    now, last = _layer(20, 52), _layer(20, 50)
    out = carry_over(now, _last(last), _flow(0.0), np.ones((H, W), np.float32), (0, 0), band=2)
    assert np.isclose(out[30, 51, 3], 1 - CARRY)  # newly drawn: half of it the last frame's nothing
    assert np.isclose(out[30, 35, 3], 1.0) and np.allclose(out[30, 35, :3], now[30, 35, :3])
    assert (out[:, 60:] == 0).all()


def test_the_last_frames_garment_is_carried_only_where_this_frame_may_draw():
    """A hand (or the head, an arm in front, the room) where the ceiling is 0: nothing of the last frame's garment
    appears there, though the last frame drew over it."""
    now, last = _layer(20, 50), _layer(20, 54)
    ceiling = np.ones((H, W), np.float32)
    ceiling[:, 50:] = 0.0  # beyond this frame's outline: a kept hand
    out = carry_over(now, _last(last), _flow(0.0), ceiling, (0, 0), band=3)
    assert (out[:, 50:] == 0).all()
    without = carry_over(now, _last(last), _flow(0.0), np.ones((H, W), np.float32), (0, 0), band=3)
    assert without[30, 51, 3] > 0.4  # what the ceiling held back


def test_a_garment_that_moved_farther_than_the_flow_leaves_no_ghost():
    """The garment jumped 15 pixels (a turn the flow did not see): only its new outline's band is averaged, so the
    old position beyond the band stays bare and the new block's middle is this frame's alone."""
    now, last = _layer(35, 65), _layer(20, 50)
    out = carry_over(now, _last(last), _flow(0.0), np.ones((H, W), np.float32), (0, 0), band=2)
    assert (out[:, 20:32] == 0).all()  # the old block's left part: no ghost
    assert np.allclose(out[15:45, 40:60], now[15:45, 40:60])


def test_boxes_of_the_crop_read_the_last_frame_at_its_own_place():
    """`layer` is a box of the crop at `origin`, and the last frame's garment was drawn in a box of its own: each is
    read at its crop pixels, as if both were the whole crop. (The dresser's origins are numpy integers.)"""
    box, last_box = (slice(5, 55), slice(10, 70)), (slice(2, 58), slice(15, 60))
    out = carry_over(
        _layer(20, 52)[box],
        _last(_layer(20, 50)[last_box], (np.int64(15), np.int64(2))),
        _flow(0.0),
        np.ones((50, 60), np.float32),
        (10, 5),
        2,
    )
    whole = carry_over(_layer(20, 52), _last(_layer(20, 50)), _flow(0.0), np.ones((H, W), np.float32), (0, 0), 2)
    assert np.allclose(out, whole[box], atol=1e-5)
    assert np.isclose(out[30 - 5, 51 - 10, 3], 1 - CARRY)  # crop (30, 51): in the band, drawn now, not before


def test_without_a_last_frame_or_a_flow_the_layer_is_drawn_as_it_is():
    now = _layer(20, 50)
    ceiling = np.ones((H, W), np.float32)
    assert carry_over(now, None, _flow(0.0), ceiling, (0, 0), 2) is now
    assert carry_over(now, _last(_layer(20, 52)), None, ceiling, (0, 0), 2) is now
