"""`engines/warp/fields.py`: a part's print carried by the dense flow where the source moves otherwise than the
part's affine map; on synthetic textured scenes whose true motion is known."""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp import fields
from tryon_cli.engines.warp.fields import ResidualFields, warp_part
from tryon_cli.engines.warp.motion import DRIFT_LIMIT, EXCESS_PULL, CropMotion, part_samples

SHAPE = (256, 192)
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
SAMPLES = part_samples(np.ones(SHAPE, np.float32))
BOX = (slice(40, 216), slice(30, 162))  # away from the borders, where the sway pulls in no new pixels


def texture() -> np.ndarray:
    noise = cv2.GaussianBlur(np.random.default_rng(2).uniform(0, 255, SHAPE), (0, 0), 2.0)
    return ((noise - noise.mean()) / noise.std() * 50 + 128).astype(np.float32)


def frame(image: np.ndarray, t: int, amplitude: float = 5.0) -> np.ndarray:
    """`image` at frame t of a skirt-like sway: sideways, zero at the middle row and largest at the top and bottom
    (not an affine motion), going back and forth over the frames."""
    ys, xs = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float32)
    shift = np.float32(amplitude * np.sin(0.5 * t)) * ((ys - SHAPE[0] / 2) / (SHAPE[0] / 2)) ** 2
    return cv2.remap(image, xs - shift, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def follow(frames, matrices, trust: float = 1.0, fits=None):
    """The part's fields over `frames`, its map each frame `matrices`; `fits`, the keypoint fits (None: none)."""
    motion, out = CropMotion(), []
    residuals = ResidualFields(motion)
    for image, matrix, fit in zip(frames, matrices, fits or [None] * len(frames)):
        motion.update(np.repeat(np.clip(image, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
        out.append(residuals("part", matrix, fit, trust, SAMPLES))
    return out


def test_the_print_follows_a_motion_its_affine_cannot():
    """The garment is the scene's own texture and its map is the identity: drawn by the map alone it stays put
    while the scene sways; with the residual it sways with the scene."""
    image = texture()
    scenes = [frame(image, t) for t in range(12)]
    found = follow(scenes, [IDENTITY] * 12)
    layer = np.dstack([image, np.ones(SHAPE, np.float32)])
    plain, carried = [], []
    for t in range(4, 12):
        for errors, field in ((plain, None), (carried, found[t])):
            drawn = warp_part(layer, IDENTITY, field, (0, 0), SHAPE[::-1])[..., 0]
            errors.append(np.abs(drawn - scenes[t])[BOX].mean())
    assert np.mean(carried) < 0.5 * np.mean(plain), (np.mean(carried), np.mean(plain))


def test_a_motion_the_affine_follows_leaves_no_residual():
    """The scene translates and the map translates with it: the field stays (near) zero."""
    image = texture()
    scenes = [cv2.warpAffine(image, np.float32([[1, 0, 2.0 * t], [0, 1, 1.0 * t]]), SHAPE[::-1]) for t in range(8)]
    maps = [np.array([[1.0, 0.0, 2.0 * t], [0.0, 1.0, 1.0 * t]]) for t in range(8)]
    found = follow(scenes, maps)
    assert (
        max(np.abs(f[BOX[0].start // 4 : BOX[0].stop // 4, BOX[1].start // 4 : BOX[1].stop // 4]).max() for f in found)
        < 0.6
    )


def test_an_untrusted_flow_and_a_first_frame_draw_the_map_alone():
    image = texture()
    scenes = [frame(image, t) for t in range(6)]
    assert all(not f.any() for f in follow(scenes, [IDENTITY] * 6, trust=0.0))
    assert not follow(scenes[:1], [IDENTITY])[0].any()


def test_the_residual_is_never_longer_than_its_limit():
    image = texture()
    scenes = [cv2.warpAffine(image, np.float32([[1, 0, 6.0 * t], [0, 1, 0]]), SHAPE[::-1]) for t in range(8)]
    found = follow(scenes, [IDENTITY] * 8)  # the scene runs away from a map that stays
    longest = max(float(np.linalg.norm(f, axis=2).max()) for f in found)
    assert 0.8 * fields.LIMIT * SHAPE[0] < longest <= fields.LIMIT * SHAPE[0] + 1e-3


def test_the_part_as_drawn_is_pulled_back_toward_its_keypoint_fit():
    """The scene slides steadily away while the keypoint fit says the part stays (a flow's bias, as on the 3DV-TON
    dress clip): without a fit the field carries the print on to its own `LIMIT`; held to the fit, the part as
    drawn (the field's mean over it) stays near `motion.DRIFT_LIMIT`. And the rule itself: a field whose mean puts
    the part 10 px from its fit is moved back by `EXCESS_PULL` of what lies beyond the limit."""
    image = texture()
    scenes = [cv2.warpAffine(image, np.float32([[1, 0, 1.5 * t], [0, 1, 0]]), SHAPE[::-1]) for t in range(12)]
    held = follow(scenes, [IDENTITY] * 12, fits=[IDENTITY] * 12)
    free = follow(scenes, [IDENTITY] * 12)
    inner = (slice(BOX[0].start // 4, BOX[0].stop // 4), slice(BOX[1].start // 4, BOX[1].stop // 4))
    shift = [float(np.linalg.norm(f[inner].mean(axis=(0, 1)))) for f in (held[-1], free[-1])]
    limit = DRIFT_LIMIT * SHAPE[0]
    assert shift[1] > 0.9 * fields.LIMIT * SHAPE[0] > limit + 2
    assert shift[0] < limit + 2  # a bias of 1.5 px a frame settles 1.5 px past the limit

    field = np.full((8, 6, 2), [10.0, 0.0], np.float32)
    moved = fields._held(field, np.ones((8, 6), np.float32), IDENTITY, IDENTITY, np.zeros(2), 4.0)
    np.testing.assert_allclose(moved[..., 0], 10.0 - (10.0 - 4.0) * EXCESS_PULL, atol=1e-5)
