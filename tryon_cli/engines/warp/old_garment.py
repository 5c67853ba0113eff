"""Where the person's old garment is, inside the repaint mask: the only pixels the warp engine replaces.

The repaint mask is generous (it must hold any new garment), so most of it is not the old garment at all: the
wall around the person, bare arms, a skirt below a top. Those stay the source's own pixels, sharp and moving as
the source moves; only the old garment is painted over (background or skin) where the new one does not cover it.

It is found by GrabCut (Rother et al. 2004, OpenCV's `grabCut`): colour models of garment and background, and a
graph cut that keeps the segmentation's edges on the image's edges, seeded by the pose:
- sure garment: the trunk's core (the shoulder-hip quadrilateral shrunk towards its centre; the hips-to-knees one
  for a lower garment) and thin lines along the limbs' bones, where they do not look like skin (a sleeve over
  the arm; a bare arm is skin and stays out);
- sure background: the box outside the repaint mask, except near the person (the head and hair, limbs, feet);
- everything else in the mask: probably garment within a limb's reach of the bones where it stands out from
  the inpainted background (`from_contrast`), probably background elsewhere: GrabCut's colour models start from
  these guesses, and a wall between striding legs, labelled garment, taught the garment's model the wall's colour.
Skin-coloured pixels are never old garment: a bare arm stays itself; nor are the feet (discs at the ankles): a
dress's mask may reach the shoes, black like the dress. Without a trunk, with too few seeds, and on the frames
between two segmentations, the plain colour test of `from_contrast` is used: distance from the inpainted
background.
Run at half size, one iteration: ~40 ms a frame here (the engine runs it every other frame, `dress.SEGMENT_EVERY`);
at a third of the size it took the white skirt under the shipped example's cream cardigan for cardigan.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.warp.body import LIMB_JOINTS, LIMB_RADII, capsule, keypoint, pixel, quadrilateral, trunk_polygon
from tryon_cli.preprocess.masks import AGNOSTIC_GREY as PAD_VALUE
from tryon_cli.preprocess.masks import torso_length

SCALE = 2  # GrabCut runs at 1/SCALE of the box's size
ITERATIONS = 1
CORE_INSET = 0.35  # the trunk quadrilateral shrunk by this towards its centre: surely the old garment
REACH = 2.0  # limb radii (body.LIMB_RADII) within which the mask is probably the garment
BONE = 0.3  # limb radii: the line along a bone that is surely the garment where it is not skin
PERSON_MARGIN = 0.25  # trunk lengths around the bones and head that are never sure background
HEAD_RADIUS = 0.45  # trunk lengths: the head and hair around the nose
FOOT_RADIUS = 0.28  # trunk lengths: the discs over the feet (shoes) that are never old garment
# The plain colour test (`from_contrast`): colour distance (0-255) from the inpainted background, from which a
# pixel starts to count as old garment (a wall's own texture against its blurred inpainting reaches ~8), and at
# which it counts fully (a cream cardigan on a white wall is 20-40 away).
CONTRAST = (10.0, 22.0)
MIN_SEEDS = 30  # pixels of each sure label GrabCut needs to fit its colour models
LIMB_CHAINS = {"upper": ("arms",), "dress": ("arms", "legs"), "lower": ("legs",)}


def old_garment(
    source: np.ndarray,
    mask: np.ndarray,
    body: np.ndarray,
    skin: np.ndarray,
    background: np.ndarray,
    category: str,
    segment: bool = True,
) -> np.ndarray:
    """float32 (H, W) 0..1: how surely each pixel of `source` (a box of the crop, RGB uint8) is the old garment;
    0 outside `mask`. `body` in box pixels, `skin` the skin likelihood (H, W), `background` the inpainted
    background (H, W, 3) for the colour test. `segment=False`: the colour test alone (the cheap frames in between,
    `dress.SEGMENT_EVERY`); the feet are left out either way."""
    scale = torso_length(body)
    contrast = from_contrast(source, mask, skin, background)
    garment = _grab_cut(source, mask, contrast, body, skin, scale, category) if segment and scale else None
    if garment is None:
        garment = contrast
    return garment if scale is None else garment * (1 - _feet(body, mask.shape, scale))


def _grab_cut(
    source: np.ndarray,
    mask: np.ndarray,
    contrast: np.ndarray,
    body: np.ndarray,
    skin: np.ndarray,
    scale: float,
    category: str,
) -> np.ndarray | None:
    """GrabCut's old garment (float32 0..1, skin and the outside of `mask` left out), or None where the pose
    seeds too little of either label."""
    labels = _seeds(source, mask, mask & (contrast > 0.5), body, skin, scale, category)
    if labels is None:
        return None
    height, width = mask.shape
    small = (max(1, width // SCALE), max(1, height // SCALE))
    small_labels = cv2.resize(labels, small, interpolation=cv2.INTER_NEAREST)
    if min((small_labels == cv2.GC_FGD).sum(), (small_labels == cv2.GC_BGD).sum()) < MIN_SEEDS:
        return None
    small_source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
    models = (np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64))
    cv2.grabCut(small_source, small_labels, None, *models, ITERATIONS, cv2.GC_INIT_WITH_MASK)
    garment = ((small_labels == cv2.GC_FGD) | (small_labels == cv2.GC_PR_FGD)).astype(np.uint8)
    # Grown by a pixel of the small size: the cut runs on the garment's blurred edge, whose dark (or light) rim
    # otherwise stayed as an outline of the old garment.
    garment = cv2.dilate(garment, np.ones((3, 3), np.uint8)).astype(np.float32)
    garment = cv2.resize(garment, (width, height), interpolation=cv2.INTER_LINEAR)
    return garment * (1 - skin) * mask


def _feet(body: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """float32 0/1 discs over the feet: at each ankle, moved half a radius on along the shin. (Not the hands: a
    disc there kept the old garment beside a hanging hand.)"""
    canvas = np.zeros(shape, np.uint8)
    radius = FOOT_RADIUS * scale
    for side in "rl":
        ankle, knee = keypoint(body, f"{side}_ankle"), keypoint(body, f"{side}_knee")
        if ankle is None:
            continue
        direction = np.zeros(2) if knee is None else (ankle - knee) / max(float(np.linalg.norm(ankle - knee)), 1.0)
        cv2.circle(canvas, pixel(ankle + 0.5 * radius * direction), int(round(radius)), 1, -1)
    return canvas.astype(np.float32)


def from_contrast(source: np.ndarray, mask: np.ndarray, skin: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The plain colour test: neither skin nor the inpainted background's continuation."""
    distance = np.abs(source.astype(np.float32) - background).max(axis=2)
    low, high = CONTRAST
    return np.clip((distance - low) / (high - low), 0.0, 1.0) * (1 - skin) * mask


def _seeds(
    source: np.ndarray,
    mask: np.ndarray,
    standing_out: np.ndarray,
    body: np.ndarray,
    skin: np.ndarray,
    scale: float,
    category: str,
) -> np.ndarray | None:
    """uint8 GrabCut labels of the box, or None without a trunk to seed the garment from. `standing_out`: the
    mask's pixels that differ from the inpainted background."""
    core = _core(body, category)
    if core is None:
        return None
    shape = mask.shape
    reach = np.zeros(shape, np.uint8)  # within a limb's reach of the garment's bones
    trunk = trunk_polygon(body, 0.0)
    if trunk is not None:
        cv2.fillConvexPoly(reach, _rounded(trunk), 1)
    _limbs(reach, body, category, REACH * scale)
    person = person_region(body, shape, scale, category)
    labels = np.full(shape, cv2.GC_PR_BGD, np.uint8)
    # The crop's padding (exact grey where it reaches past the frame) is no background to learn colours from.
    padding = (source == PAD_VALUE).all(axis=2)
    labels[~mask.astype(bool) & (person == 0) & ~padding] = cv2.GC_BGD
    labels[standing_out & (reach > 0)] = cv2.GC_PR_FGD
    sure = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(sure, _rounded(core), 1)
    _limbs(sure, body, category, BONE * scale)
    labels[(sure > 0) & mask.astype(bool) & (skin < 0.5)] = cv2.GC_FGD
    return labels


def person_region(body: np.ndarray, shape: tuple[int, int], scale: float, category: str) -> np.ndarray:
    """uint8 0/1: anywhere the person may be (never sure background): near any bone, the feet, the head and
    hair, and around the trunk and the garment's reach of its bones, by `PERSON_MARGIN` trunk lengths."""
    person = np.zeros(shape, np.uint8)
    margin = PERSON_MARGIN * scale
    for chain in LIMB_JOINTS.values():
        for side in "rl":
            for a, b in zip(chain, chain[1:]):
                capsule(person, keypoint(body, f"{side}_{a}"), keypoint(body, f"{side}_{b}"), margin)
    for side in "rl":
        capsule(person, keypoint(body, f"{side}_ankle"), keypoint(body, f"{side}_ankle"), 2 * margin)  # the feet
    head = keypoint(body, "nose") if keypoint(body, "nose") is not None else keypoint(body, "neck")
    if head is not None:
        cv2.circle(person, pixel(head), int(round(HEAD_RADIUS * scale)), 1, -1)
    trunk = trunk_polygon(body, -PERSON_MARGIN)
    if trunk is not None:
        cv2.fillConvexPoly(person, _rounded(trunk), 1)
    _limbs(person, body, category, REACH * scale, margin)
    return person


def _core(body: np.ndarray, category: str) -> np.ndarray | None:
    """The polygon that is surely the old garment: the trunk's core, or the hips-to-knees one for a lower garment."""
    if category != "lower":
        return trunk_polygon(body, CORE_INSET)
    return quadrilateral(body, ("r_hip", "l_hip", "l_knee", "r_knee"), CORE_INSET)


def _rounded(polygon: np.ndarray) -> np.ndarray:
    return np.round(polygon.reshape(-1, 2)).astype(np.int32)


def _limbs(canvas: np.ndarray, body: np.ndarray, category: str, radius: float, margin: float = 0.0) -> None:
    """Capsules along the bones that the `category`'s garment covers: `radius` (pixels per unit of
    body.LIMB_RADII) times each bone's radius, plus `margin` pixels. The last bone of a limb stops its round cap
    at the wrist or ankle: no garment goes past them (what the hand holds is not the sleeve)."""
    for chain in LIMB_CHAINS[category]:
        names = LIMB_JOINTS[chain]
        for side in "rl":
            for a, b in zip(names, names[1:]):
                start, end = keypoint(body, f"{side}_{a}"), keypoint(body, f"{side}_{b}")
                width = radius * LIMB_RADII[f"{a}-{b}"] + margin
                if start is not None and end is not None and b == names[-1]:
                    length = float(np.linalg.norm(end - start))
                    end = start + (end - start) * max(0.0, 1.0 - width / max(length, 1.0))
                capsule(canvas, start, end, width)
