"""What lies under and around the new garment, in crop pixels, from the pose: skin, background, and the
person's shading.

- `limb_region` / `chest_region`: where the person's bare arms, legs and chest are when the new garment does not
  cover them (capsules along the bones, human proportions in trunk lengths).
- `SkinTone`: the person's skin colour, from the source outside the repaint mask (hands, face), steady in time.
- `background_fill`: the repaint region filled from its surroundings (OpenCV's Telea inpainting, at a quarter of
  the size: the fill is smooth anyway, and full-size inpainting of a third of the frame costs ~10x more).
- `shading`: the source's folds, shadows and lighting changes that the new garment takes over.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import BODY_INDEX, DRAW_THRESHOLD
from tryon_cli.preprocess.masks import AGNOSTIC_GREY as PAD_VALUE
from tryon_cli.preprocess.masks import torso_length

J = BODY_INDEX
# Radii of bare limbs, in trunk lengths (neck to mid-hip): a forearm is ~8 cm across a ~50 cm trunk.
LIMB_RADII = {"shoulder-elbow": 0.075, "elbow-wrist": 0.06, "hip-knee": 0.14, "knee-ankle": 0.085}
LIMB_JOINTS = {"arms": ("shoulder", "elbow", "wrist"), "legs": ("hip", "knee", "ankle")}  # each side's chain
FRONT_INSET = 0.15
# An arm painted behind the garment is drawn this much wider than it is: it only shows where the old garment was
# (elsewhere the source stays), and a capsule that lags the arm by a few pixels left the wall showing between a
# new short sleeve and the source's bare forearm. Not the legs: wider, they merged into one pale column under a
# long dress.
BEHIND_SLACK = 1.4
LIMB_SHADE = 0.3  # how much darker a painted limb is at its edge than on its axis (`roundness`)
SHADING_SIGMA = 0.012  # low-pass of the source's luminance, in crop heights: keeps folds, drops the old print
WIDE_SIGMA = 0.06  # the wider average that folds and shadows are measured against, in crop heights
WIDE_STEP = 4  # ... computed at 1/WIDE_STEP of the size (`_wide_blur`)
SHADING_RANGE = (0.75, 1.12)  # how much darker / brighter than its surroundings a fold or shadow may make cloth
SHADING_FLOOR = 48.0  # grey levels added to both sides of the ratio (see `shading`)
LIGHTING_RANGE = (0.7, 1.3)  # how far the scene's lighting may change the garment's brightness
INPAINT_SCALE = 4
DEFAULT_SKIN = np.array([205.0, 160.0, 135.0])  # RGB, used until the person's own skin is seen


def keypoint(body: np.ndarray, name: str) -> np.ndarray | None:
    """(x, y) of joint `name`, or None where it is missing."""
    row = body[J[name]]
    return row[:2] if row[2] >= DRAW_THRESHOLD else None


def capsule(canvas: np.ndarray, a, b, radius: float) -> None:
    """Draws 1 on uint8 `canvas` along the segment a-b, `radius` pixels each side; nothing if a point is missing."""
    if a is None or b is None:
        return
    cv2.line(canvas, pixel(a), pixel(b), 1, max(1, int(round(2 * radius))), cv2.LINE_AA)


def limb_region(body: np.ndarray, limbs: tuple[str, ...], shape: tuple[int, int]) -> np.ndarray:
    """uint8 0/1 capsules of the bare `limbs` ("arms", "legs") of both sides."""
    canvas = np.zeros(shape, np.uint8)
    scale = torso_length(body)
    if scale is None:
        return canvas
    for limb in limbs:
        chain = LIMB_JOINTS[limb]
        for side in "rl":
            for a, b in zip(chain, chain[1:]):
                capsule(
                    canvas, keypoint(body, f"{side}_{a}"), keypoint(body, f"{side}_{b}"), LIMB_RADII[f"{a}-{b}"] * scale
                )
    return canvas


def roundness(body: np.ndarray, limbs: np.ndarray) -> np.ndarray:
    """float32 (H, W) multiplier of painted skin: a limb is a cylinder, lit on its axis and darker towards its
    edges (1 - `LIMB_SHADE` (d / r)^2, d the distance from the bone, r to the capsule's edge), so a painted arm
    shows its outline against a painted chest or a wall of similar tone; 1 off the `limbs` capsules (0/1)."""
    bones = np.ones(limbs.shape, np.uint8)
    for chain in LIMB_JOINTS.values():
        for side in "rl":
            for a, b in zip(chain, chain[1:]):
                start, end = keypoint(body, f"{side}_{a}"), keypoint(body, f"{side}_{b}")
                if start is not None and end is not None:
                    cv2.line(bones, pixel(start), pixel(end), 0, 1)
    to_bone = cv2.distanceTransform(bones, cv2.DIST_L2, 3)
    to_edge = cv2.distanceTransform(limbs.astype(np.uint8), cv2.DIST_L2, 3)
    across = to_bone / np.maximum(to_bone + to_edge, 1e-3)
    return 1.0 - LIMB_SHADE * across**2 * (limbs > 0)


def pixel(point) -> tuple[int, int]:
    """The integer pixel (x, y) nearest to `point`, as OpenCV's drawing takes it."""
    return int(round(float(point[0]))), int(round(float(point[1])))


def arm_regions(body: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(behind, in front) uint8 0/1 capsules of the bare arms: a forearm whose middle or wrist lies well inside
    the trunk (the shoulder-hip quadrilateral shrunk by `FRONT_INSET` towards its centre) crosses in front of it."""
    behind, front = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    scale = torso_length(body)
    if scale is None:
        return behind, front
    trunk = trunk_polygon(body)
    for side in "rl":
        shoulder, elbow, wrist = (keypoint(body, f"{side}_{j}") for j in ("shoulder", "elbow", "wrist"))
        capsule(behind, shoulder, elbow, BEHIND_SLACK * LIMB_RADII["shoulder-elbow"] * scale)
        crosses = (
            trunk is not None
            and elbow is not None
            and wrist is not None
            and any(
                cv2.pointPolygonTest(trunk, (float(p[0]), float(p[1])), False) > 0 for p in (wrist, (elbow + wrist) / 2)
            )
        )
        # In front of the garment a forearm is drawn as wide as it is: there no old garment bounds it.
        radius = LIMB_RADII["elbow-wrist"] * scale
        capsule(front if crosses else behind, elbow, wrist, radius if crosses else BEHIND_SLACK * radius)
    return behind, front


def trunk_polygon(body: np.ndarray, inset: float = FRONT_INSET) -> np.ndarray | None:
    """float32 (4, 1, 2): the shoulder-hip quadrilateral shrunk by `inset` towards its centre; None without it."""
    return quadrilateral(body, ("r_shoulder", "l_shoulder", "l_hip", "r_hip"), inset)


def quadrilateral(body: np.ndarray, names: tuple[str, ...], inset: float) -> np.ndarray | None:
    """float32 (N, 1, 2): the polygon of joints `names` shrunk by `inset` towards its centre; None if one is missing."""
    points = [keypoint(body, n) for n in names]
    if any(p is None for p in points):
        return None
    points = np.array(points, np.float32)
    centre = points.mean(axis=0)
    return (centre + (points - centre) * (1 - inset)).reshape(-1, 1, 2)


def chest_region(body: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 0/1: the trunk from the neck down to the hips (bare skin where a neckline or a short top opens)."""
    canvas = np.zeros(shape, np.uint8)
    points = [keypoint(body, n) for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip")]
    points = [p for p in points if p is not None]
    if len(points) >= 3:
        cv2.fillConvexPoly(canvas, np.round(np.array(points)).astype(np.int32), 1)
    return canvas


class SkinTone:
    """The person's skin colour: skin-coloured pixels near the hands and face that the mask leaves alone,
    averaged over frames (a running mean that settles, so the fill does not flicker)."""

    def __init__(self) -> None:
        self.colour = DEFAULT_SKIN.copy()
        self.weight = 0.0

    def update(self, source: np.ndarray, mask: np.ndarray, body: np.ndarray) -> np.ndarray:
        scale = torso_length(body)
        if scale is None:
            return self.colour
        # The face first (hands hold things and lie in shadow more often); the hands when the face is out of view.
        for names in (("nose",), ("r_wrist", "l_wrist")):
            probe = np.zeros(mask.shape, np.uint8)
            for name in names:
                point = keypoint(body, name)
                if point is not None:
                    cv2.circle(probe, tuple(int(round(v)) for v in point), max(2, int(0.12 * scale)), 1, -1)
            pixels = source[(probe > 0) & ~mask]
            skin = pixels[skin_likelihood(pixels[None])[0] > 0.5] if len(pixels) else pixels
            if len(skin) >= 20:
                share = len(skin) / (self.weight + len(skin))
                self.colour = (1 - share) * self.colour + share * np.median(skin, axis=0)
                self.weight = min(self.weight + len(skin), 20000.0)
                break
        return self.colour


def skin_likelihood(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) 1 where an RGB pixel's chroma is skin's (the YCrCb box of Chai & Ngan 1999, which holds
    whatever the skin's lightness), 0 elsewhere, with a soft step of a few chroma levels at the box's edges.
    Pixels darker than luma 40 are left out: there the chroma is mostly noise. (At 80, as before, dark skin, luma
    40-80 in the 3DV-TON dress clip's legs, was painted over in the skin tone; black cloth stays out through its
    neutral chroma.)"""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]

    def inside(v, low, high):
        return np.clip(np.minimum(v - low, high - v) / 4.0 + 0.5, 0.0, 1.0)

    return inside(cr, 135, 173) * inside(cb, 77, 127) * inside(y, 40, 255)


def background_fill(source: np.ndarray, mask: np.ndarray, shrink: int = INPAINT_SCALE) -> np.ndarray:
    """float32 (H, W, 3): `source` with the `mask` region inpainted from its surroundings.

    The crop's padding (exact grey where the crop reaches past the frame) is no surrounding to take colour from:
    it is inpainted too (and never pasted back). Neither are the kept islands inside the mask (hands, a face):
    the fill comes from the region's outer surroundings, or a hand would spread into a skin-coloured halo."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(outline, contours, -1, 1, cv2.FILLED)
    mask = outline.astype(bool) | (source == PAD_VALUE).all(axis=2)
    height, width = mask.shape
    small = (max(1, width // shrink), max(1, height // shrink))
    small_source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
    # Grown by a pixel at the small size, so no masked (old garment) pixel bleeds into the fill.
    small_mask = cv2.dilate(
        (cv2.resize(mask.astype(np.uint8), small, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8),
        np.ones((3, 3), np.uint8),
    )
    filled = cv2.inpaint(small_source, small_mask, 3, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def luminance(source: np.ndarray, crop_height: int) -> np.ndarray:
    """float32 (H, W) low-pass luminance of (a box of) an RGB crop `crop_height` pixels high."""
    gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY).astype(np.float32)
    sigma = SHADING_SIGMA * crop_height
    return cv2.GaussianBlur(gray, (0, 0), sigma)


def shading(
    low: np.ndarray, cloth: np.ndarray, body_weight: np.ndarray, crop_height: int, lighting: float
) -> np.ndarray:
    """float32 (H, W) multiplier for the new garment and skin: the source's folds and shadows, and the scene's
    lighting change.

    Folds and shadows are the low-pass luminance `low` over its wider average on the body (`body` bool; a
    normalised convolution, so the wall beside a black garment does not brighten its edge): the old garment's
    own colour, a large-scale albedo, cancels out, what varies within a few centimetres of cloth stays. `cloth`
    (bool: the old garment's pixels) says which pixels the wider average is taken over. It is
    clipped to `SHADING_RANGE` and faded to 1 off the body (`body_weight`). `lighting` (this frame's scene
    brightness over the first frame's) multiplies the whole."""
    sigma = WIDE_SIGMA * crop_height
    # A little weight everywhere, so the average is defined where no cloth is near (it is then ~1 anyway).
    weight = cloth.astype(np.float32) + 0.02
    wide = _wide_blur(low * weight, sigma) / np.maximum(_wide_blur(weight, sigma), 1e-3)
    # On a dark old garment a few grey levels of noise or texture are a large ratio: the floor damps them.
    ratio = (low + SHADING_FLOOR) / (wide + SHADING_FLOOR)
    # The typical cloth pixel is neither lit nor shaded: the ratio's median on the cloth is brought back to 1.
    if cloth.any():
        ratio /= max(float(np.median(ratio[cloth])), 1e-3)
    ratio = np.clip(ratio, *SHADING_RANGE)
    return (1.0 + body_weight * (ratio - 1.0)) * float(np.clip(lighting, *LIGHTING_RANGE))


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `sigma` pixels (tens of pixels here), done at a quarter of the size: what it keeps is
    smooth over many pixels, and at full size the two blurs of `shading` took a tenth of the engine's time."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // WIDE_STEP), max(1, height // WIDE_STEP)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / WIDE_STEP)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
