"""One frame dressed: the garment's parts warped onto the person, over a plausible fill, shaded like the source.

Layers, back to front, all inside the repaint mask only (outside it the source crop is returned untouched):
1. the source itself, except where the old garment is (`old_garment`: GrabCut seeded by the pose): the wall
   around the person, bare arms, a skirt below a top stay the source's own pixels;
2. over the old garment: the background inpainted from its surroundings away from the person, and bare skin
   where the new garment may leave the body open (the chest, the arms; the legs under a skirt or dress), so no
   trace of the old garment stays;
3. the garment's trunk parts (torso, skirt), then bare arms (in front of the torso: an arm crossing the body
   stays in front), then the sleeves / trouser legs, each part with its own affine (`skeleton`);
4. for a lower garment, the person's own arms and hands from the source where they hang in front of the hips.
Skin and garment are multiplied by the source's shading (`body.shading`), painted limbs also by their roundness.
The keypoints and each part's map follow the source's optical flow, pulled toward the detections (`motion`), and
what replaces the old garment (background and skin) and the old garment's segmentation are averaged along the
same flow: the output moves as the source does.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp import body as bodies
from tryon_cli.engines.warp.matte import garment_matte
from tryon_cli.engines.warp.motion import CropMotion, FlowAveraged, KeypointTracker, MotionTracker, part_samples
from tryon_cli.engines.warp.old_garment import old_garment, person_region
from tryon_cli.engines.warp.skeleton import (
    blend,
    label_parts,
    limb_transform,
    parts_for,
    root_weight,
    scale_of,
    trunk_transform,
)
from tryon_cli.engines.warp.stabilize import PoseFiller
from tryon_cli.preprocess.conditioning import GarmentInput
from tryon_cli.preprocess.masks import torso_length

# Where bare skin is painted under the trunk parts, and which limbs are bare skin in front of them.
# Arms are behind the trunk's garment (its sides overlap them) unless a forearm crosses in front of the trunk.
SKIN_UNDER = {"upper": ("chest", "arms_under"), "dress": ("chest", "legs", "arms_under"), "lower": ("legs",)}
SKIN_OVER = {"upper": ("arms_over",), "dress": ("arms_over",), "lower": ()}
EDGE_SOFTNESS = 0.004  # blur of the skin regions' edges, in crop heights
BODY_FADE = 0.03  # how far off the body the source's shading fades out, in crop heights
ROI_MARGIN = 0.04  # the working box's margin around the mask, in crop heights
CRACK = 0.012  # widest gap between garment parts that is closed, in crop heights
# The old garment's segmentation (GrabCut, `old_garment`) is averaged along the flow too: alone it flipped on a
# dark bag beside a black dress. It runs every SEGMENT_EVERY frames (it is the engine's dearest step, ~40 ms);
# in between, last frame's is carried along the flow.
OLD_CLOTH_RENEW = 0.5
SEGMENT_EVERY = 2
BEHIND_SHRINK = 8  # the background behind the person is inpainted at 1/BEHIND_SHRINK of the size
ROOT_STEPS = (0.33, 0.67)  # the in-between turns of a sleeve's root (see `GarmentDresser.__init__`)


class GarmentDresser:
    """Per-video state (the garment cut into parts, the pose filler, the skin tone, the shading reference) and
    the per-frame rendering."""

    def __init__(self, garment: GarmentInput):
        self.category = garment.category
        self.garment_body = garment.landmarks.as_body()
        self.parts = parts_for(self.category, self.garment_body)
        colour, alpha = garment_matte(garment.image)
        # Premultiplied RGBA per part, so warping blends edges correctly.
        self.layers = [np.dstack([colour * a[..., None], a]) for a in label_parts(alpha, self.garment_body, self.parts)]
        # Where a sleeve joins the torso, copies of its root turned part of the way from the torso's warp to the
        # arm's fill the wedge that opens over the shoulder when the arm hangs lower than the sleeve was laid flat.
        roots = [root_weight(part, self.garment_body, alpha.shape) for part in self.parts]
        self.roots = [None if w is None else layer * w[..., None] for layer, w in zip(self.layers, roots)]
        self.fill_pose = PoseFiller()
        self.samples = {part.name: part_samples(layer[..., 3]) for part, layer in zip(self.parts, self.layers)}
        # The trunk's map carries every non-limb part; trousers have none, and their trunk (the hips) carries the
        # legs' pixels.
        trunk_parts = [p for p in self.parts if not p.limb] or self.parts
        self.samples["trunk"] = np.concatenate([self.samples[p.name] for p in trunk_parts])
        self.motion = CropMotion()
        self.steady = MotionTracker(self.motion)
        self.track_points = KeypointTracker(self.motion)
        self.fill = FlowAveraged(self.motion)
        self.old_cloth = FlowAveraged(self.motion, OLD_CLOTH_RENEW)
        self.dressed = 0  # frames dressed so far
        self.skin = bodies.SkinTone()
        self.reference: float | None = None

    def __call__(self, frame: CropFrame) -> np.ndarray:
        source, mask = frame.source, frame.mask
        self.motion.update(source)
        if not mask.any():
            return source.copy()
        body = self.fill_pose(frame.pose.body)
        body = self.track_points(body)
        trunk = self.steady("trunk", trunk_transform(self.parts, self.garment_body, body), self.samples["trunk"])
        if trunk is None:  # a mask but no person to fit the garment to (a user's mask on an empty frame)
            return source.copy()
        # All the work happens in the mask's box (plus a margin for the blurs and the inpainting's surroundings):
        # a third of the crop or less, and what keeps the engine fast.
        box = _box(mask, round(ROI_MARGIN * mask.shape[0]))
        (y0, y1), (x0, x1) = box
        out = source.copy()
        out[y0:y1, x0:x1] = self._dress(
            source[y0:y1, x0:x1],
            mask[y0:y1, x0:x1],
            _moved(body, -x0, -y0),
            _moved_matrix(trunk, -x0, -y0),
            mask.shape,
            box,
        )
        return out

    def _dress(
        self,
        source: np.ndarray,
        mask: np.ndarray,
        body: np.ndarray,
        trunk: np.ndarray,
        crop_shape: tuple[int, int],
        box,
    ) -> np.ndarray:
        """The dressed pixels of one box of the crop (`source`, `mask`, `body` and `trunk` all in box pixels; the
        `box` in the crop: the maps and the fill follow the motion in crop pixels, the box moves)."""
        corner = (box[1][0], box[0][0])
        height, width = mask.shape
        crop_height = crop_shape[0]
        scale = scale_of(trunk)
        low = bodies.luminance(source, crop_height)
        shape = (height, width)
        arms_under, arms_over = bodies.arm_regions(body, shape)
        regions = {
            "chest": bodies.chest_region(body, shape),
            "arms_under": arms_under,
            "arms_over": arms_over,
            "legs": bodies.limb_region(body, ("legs",), shape),
        }
        # The scene's brightness outside the mask, against the first frame's: the lighting change.
        scene = float(np.median(low[~mask])) if (~mask).any() else float(np.median(low))
        self.reference = self.reference or max(scene, 1.0)
        skin_here = bodies.skin_likelihood(source)[..., None]
        background = bodies.background_fill(source, mask)
        # The old garment: only it is replaced; the rest of the mask (the wall around the person, a bare arm, the
        # skirt below a top) stays the source's own pixels. Its light and folds are what the new garment takes over.
        # In between two segmentations last frame's is carried on; the colour test counts only where the mask is new.
        segment = self.dressed % SEGMENT_EVERY == 0
        found = old_garment(source, mask, body, skin_here[..., 0], background, self.category, segment)
        renew = None if segment else 0.0
        self.dressed += 1
        old_cloth = self.old_cloth(found[..., None], box, crop_shape, mask, renew)
        # Shading is measured where this frame's own finding and the flow-carried average agree: at a moving edge
        # they differ, and the source's light there is of what moved in (the wall behind).
        cloth = (old_cloth[..., 0] > 0.5) & (found > 0.5)
        shade = bodies.shading(low, cloth, _soft(cloth, BODY_FADE * crop_height), crop_height, scene / self.reference)
        skin = self.skin.update(source, mask, body).astype(np.float32)
        soft = EDGE_SOFTNESS * crop_height

        # Skin where the old cloth was: the person's skin tone under the source's shading; a forearm crossing in
        # front of the garment keeps the source's own pixels where they look like skin.
        limbs = np.maximum(np.maximum(arms_under, arms_over), regions["legs"])
        painted_skin = skin[None, None, :] * (shade * bodies.roundness(body, limbs))[..., None]
        skin_colour = skin_here * source + (1 - skin_here) * painted_skin
        under = np.zeros((height, width), np.float32)
        for name in SKIN_UNDER[self.category]:
            under = np.maximum(under, _soft(regions[name], soft))
        over = np.zeros((height, width), np.float32)
        for name in SKIN_OVER[self.category]:
            over = np.maximum(over, _soft(regions[name], soft))

        trunk_cover = np.zeros((height, width, 4), np.float32)  # premultiplied RGBA, front on top
        limb_cover = np.zeros((height, width, 4), np.float32)
        for part, layer, root in zip(self.parts, self.layers, self.roots):
            matrix = self._limb(part, body, scale, corner) if part.limb else trunk
            if matrix is None:
                continue
            for t in ROOT_STEPS if root is not None else ():
                _over(
                    limb_cover, cv2.warpAffine(root, blend(trunk, matrix, t), (width, height), flags=cv2.INTER_LINEAR)
                )
            _over(
                limb_cover if part.limb else trunk_cover,
                cv2.warpAffine(layer, matrix, (width, height), flags=cv2.INTER_LINEAR),
            )
        garment = trunk_cover.copy()
        _over(garment, limb_cover)
        _close_cracks(garment, max(3, int(round(CRACK * crop_height)) | 1))
        garment[..., :3] *= shade[..., None]
        # Back to front: the source, over the old garment what replaces it (background, skin under the garment),
        # the garment, forearms crossing in front of the trunk (but behind their own sleeves).
        over *= 1 - limb_cover[..., 3]
        # What replaces the old cloth (background, and skin where the body is) is made up frame by frame: it is
        # averaged along the flow; the source's own pixels are not (they move as the source does already).
        replacement = self._behind(source, mask, body) * (1 - under[..., None]) + painted_skin * under[..., None]
        replacement = self.fill(replacement, box, crop_shape, mask)
        result = source + old_cloth * (replacement - source)
        result = result * (1 - garment[..., 3:]) + garment[..., :3]
        result = result * (1 - over[..., None]) + skin_colour * over[..., None]
        if self.category == "lower":
            # The arms hang in front of the hips: the source's own arms and hands stay there.
            front = _soft(np.maximum(arms_under, arms_over), soft)[..., None]
            result = result * (1 - front) + source * front
        out = source.copy()
        out[mask] = np.clip(result[mask] + 0.5, 0, 255).astype(np.uint8)
        return out

    def _behind(self, source: np.ndarray, mask: np.ndarray, body: np.ndarray) -> np.ndarray:
        """What is behind the person: the box inpainted from its surroundings away from the person
        (`old_garment.person_region`). Inpainted from the mask's edge alone, the fill took in what crosses it
        (a red skirt below a white top glowed into the top's sides, legs browned the wall between them)."""
        trunk = torso_length(body)
        if trunk is None:
            return bodies.background_fill(source, mask)
        # The whole person is filled, so at an eighth of the size (a smooth fill, and half the cost at a quarter).
        return bodies.background_fill(
            source, mask | (person_region(body, mask.shape, trunk, self.category) > 0), BEHIND_SHRINK
        )

    def _limb(self, part, body: np.ndarray, scale: float, corner: tuple[int, int]) -> np.ndarray | None:
        """The smoothed affine of limb `part` in box pixels."""
        x0, y0 = corner
        matrix = limb_transform(part, self.garment_body, body, scale)
        matrix = self.steady(
            part.name, None if matrix is None else _moved_matrix(matrix, x0, y0), self.samples[part.name]
        )
        return None if matrix is None else _moved_matrix(matrix, -x0, -y0)


def _box(mask: np.ndarray, margin: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((y0, y1), (x0, x1)): the mask's bounding box grown by `margin`, inside the image."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    height, width = mask.shape
    return (
        (max(0, ys[0] - margin), min(height, ys[-1] + 1 + margin)),
        (max(0, xs[0] - margin), min(width, xs[-1] + 1 + margin)),
    )


def _moved(body: np.ndarray, dx: float, dy: float) -> np.ndarray:
    out = body.copy()
    out[:, 0] += dx
    out[:, 1] += dy
    return out


def _moved_matrix(matrix: np.ndarray, dx: float, dy: float) -> np.ndarray:
    out = matrix.copy()
    out[:, 2] += (dx, dy)
    return out


def _close_cracks(cover: np.ndarray, size: int) -> None:
    """Fill the thin gaps between the garment's parts (a bent joint, two cut edges that do not quite meet) with
    the colour around them, in place: the alpha's morphological closing minus the alpha is the crack."""
    alpha = cover[..., 3]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    crack = np.clip(cv2.morphologyEx(alpha, cv2.MORPH_CLOSE, kernel) - alpha, 0.0, 1.0)
    if crack.max() <= 0.02:
        return
    sigma = size / 2
    colour = (
        cv2.GaussianBlur(cover[..., :3], (0, 0), sigma)
        / np.maximum(cv2.GaussianBlur(alpha, (0, 0), sigma), 1e-3)[..., None]
    )
    cover[..., :3] += colour * crack[..., None]
    cover[..., 3] += crack


def _soft(region: np.ndarray, sigma: float) -> np.ndarray:
    """float32 0..1 alpha of a 0/1 region with its edge blurred by `sigma` pixels."""
    alpha = region.astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), max(sigma, 0.5)) if sigma > 0 else alpha


def _over(cover: np.ndarray, layer: np.ndarray) -> None:
    """Premultiplied `layer` (H, W, 4) composited over `cover` in place."""
    cover *= 1 - layer[..., 3:]
    cover += layer
