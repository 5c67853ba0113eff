"""Agnostic masks: the region of each frame that the new garment may occupy (True = repaint), from the pose.

The region is a body-part model drawn from the OpenPose-18 skeleton, in units of the person's torso length so it
scales with the person: the torso as a polygon, limbs as capsules, the parts the category's garment covers
(`PARTS`), all grown by a generous margin, because the new garment may be looser or longer than the old one and
the old one must not show through. The head (`head.head_region`: crown to chin, from whatever head points are
visible, or from the neck when the head is out of frame), the hands (`hands.hand_regions`) and the feet are cut
out of every category's mask, and, given the frames, the rest of a hand bent at the wrist (`hands.bent_hands`) and
long hair that falls over it (`hair.LongHair`), so the identity and the hands survive the repaint; and, for a top,
the skirt or trousers its region reaches into (`lower_garment.LowerGarment`: the new top is tucked in). Frames are
made temporally stable by the smoothed poses (`tracking.one_euro`) and by a vote over neighbouring frames
(`agnostic_masks`).

`write_vivid_layout` writes the result as the ViViD dataset lays it out: `agnostic_mask/<stem>.mp4` (white =
repaint) and `agnostic/<stem>.mp4` (the frames with that region filled with grey 128).
"""

from __future__ import annotations

import weakref
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.preprocess.hair import LongHair
from tryon_cli.preprocess.hands import bent_hands, garment_by_hands, garment_near_hands, hand_regions, skin_test
from tryon_cli.preprocess.head import head_region
from tryon_cli.preprocess.keypoints import (
    BODY_INDEX,
    FramePose,
    PoseSequence,
    midpoint,
    pixel,
    point,
    torso_length,
)
from tryon_cli.preprocess.lower_garment import LowerGarment

CATEGORIES = ("upper", "lower", "dress")
AGNOSTIC_GREY = 128
MASK_VERSION = 13
"""The version of the mask algorithm: raise it whenever the masks a pose (and a frame) give change. `dpidm train
prepare` keys its cached masks by it, so masks made by older code are rebuilt, never reused silently
(`tests/test_preprocess_masks.py` pins the masks of fixed poses together with it)."""

J = BODY_INDEX
VOTE_WINDOW = 2
"""A frame's mask is voted over the frames within this many of it on either side (5 frames; 7 or 9 measured no
better, docs/preprocessing.md)."""
VOTE_QUORUM = 0.4
"""A pixel is on when at least this share of those frames have it (2 of 5): a one-frame flicker is voted away, and
a moving edge is kept a little wide rather than trimmed (the old garment showing through is worse than a slightly
larger repaint)."""


@dataclass(frozen=True)
class MaskShape:
    """Proportions of the body-part model, as fractions of the torso length (neck to mid-hip)."""

    arm_radius: float = 0.16
    forearm_radius: float = 0.16
    """At the wrist: the forearm's region tapers from `arm_radius` at the elbow to this (a sleeve narrows to its
    cuff)."""
    leg_radius: float = 0.18
    margin: float = 0.08
    """How far the region is grown beyond the parts: room for a looser garment."""
    hem_drop: float = 0.1
    """How far below the hips an upper garment may reach."""
    waist_rise: float = 0.3
    """How far above the hip joints a lower garment's waistband may reach: a high-rise waistband sits at the natural
    waist, about 0.3 trunk lengths above the hip joints (0.25 left ViViD lower1's waistband out)."""
    hip_out: float = 0.12
    """How far the hips' outer sides lie beyond the hip points, along the hip line: the pelvis is about twice as wide
    as the distance between the hip joints (~0.35 trunk lengths)."""
    collar_rise: float = 0.12
    torso_half_depth: float = 0.22
    """The torso is at least this wide on either side of the spine (neck to mid-hip): seen from the side the
    shoulders and hips collapse onto the spine, but the chest and back do not (a chest is ~0.45 trunk lengths
    deep)."""
    foot_radius: float = 0.14


SHAPES = {
    # Its sleeves narrow towards the cuff. The hem stays 0.1 below the hips: ending at the hips (IoU 0.654 on ViViD
    # upper1, whose cardigan is cropped) left the old hem of a sweater and of a long tee (shared wild clips) unmasked.
    # The margin is the default's: 0.07 held IoU above 0.65 on upper1 while its skirt was repainted; with the skirt
    # kept (`lower_garment.py`) 0.07 cost the arms' outer edges (recall 0.949 -> 0.952, IoU 0.776 -> 0.761).
    "upper": MaskShape(forearm_radius=0.12),
    # Legs: the thigh's half width (~0.1 trunk lengths) and room for a wide trouser leg; the hips' width is the
    # pelvis's (`hip_out`), not the legs' radius.
    "lower": MaskShape(leg_radius=0.15),
    # A dress's outline is the least predictable (from a sheath to a ball gown): a wider margin.
    "dress": MaskShape(margin=0.25),
}

PARTS = {
    # Drawn in order; "hull" fills the convex hull of what is drawn so far. A top may have wide sleeves or a loose
    # armhole, so the space between upper arm and torso is repainted; its forearms come after the hull because a
    # top's body does not reach between forearm and hip (the old lower garment shows there and must stay).
    "upper": ("torso", "upper_arms", "hull", "forearms"),
    "lower": ("pelvis", "legs"),
    # A dress: the hull of the whole body below the face, and a skirt that may fall to the ankles.
    "dress": ("torso", "upper_arms", "forearms", "pelvis", "legs", "skirt", "hull"),
}


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise InputError(f"unknown garment category {category!r}; choose from {', '.join(CATEGORIES)}")
    return category


class _Canvas:
    """Draws parts grown by a radius: a polygon or capsule dilated by r is its fill plus r-thick outline."""

    def __init__(self, height: int, width: int):
        self.image = np.zeros((height, width), np.uint8)

    def capsule(self, a, b, radius: float) -> None:
        if a is None or b is None:
            return
        thickness = max(1, int(round(2 * radius)))
        cv2.line(self.image, pixel(a), pixel(b), 1, thickness)
        for p in (a, b):  # round caps whatever cv2's line end style
            cv2.circle(self.image, pixel(p), thickness // 2, 1, -1)

    def cone(self, a, b, radius_a: float, radius_b: float) -> None:
        """The convex hull of a disc of `radius_a` at `a` and one of `radius_b` at `b` (a capsule that tapers)."""
        if a is None or b is None:
            return
        rim = [
            cv2.ellipse2Poly(pixel(c), (max(1, int(round(r))),) * 2, 0, 0, 360, 10)
            for c, r in ((a, radius_a), (b, radius_b))
        ]
        cv2.fillConvexPoly(self.image, cv2.convexHull(np.concatenate(rim)), 1)

    def limbs(self, p: dict, joints: tuple[str, ...], radius: float) -> None:
        """Capsules along the chain of `joints` (e.g. shoulder, elbow, wrist) of both sides."""
        for side in ("r", "l"):
            for a, b in zip(joints, joints[1:]):
                self.capsule(p[f"{side}_{a}"], p[f"{side}_{b}"], radius)

    def polygon(self, points, radius: float) -> None:
        points = [p for p in points if p is not None]
        if len(points) < 3:
            for a, b in zip(points, points[1:]):
                self.capsule(a, b, radius)
            return
        hull = cv2.convexHull(np.round(np.array(points)).astype(np.int32))
        cv2.fillConvexPoly(self.image, hull, 1)
        cv2.polylines(self.image, [hull], True, 1, max(1, int(round(2 * radius))))
        for p in points:
            cv2.circle(self.image, pixel(p), int(round(radius)), 1, -1)

    def disc(self, center, radius: float) -> None:
        if center is not None and radius > 0:
            cv2.circle(self.image, pixel(center), max(1, int(round(radius))), 1, -1)


def _shift(p: np.ndarray | None, direction: np.ndarray, amount: float) -> np.ndarray | None:
    return None if p is None else p + direction * amount


def _down(p: dict) -> np.ndarray:
    """Unit vector down the body (neck to mid-hip) when both are known, else the image's down."""
    neck, hip = p["neck"], midpoint(p["r_hip"], p["l_hip"])
    if neck is not None and hip is not None and np.linalg.norm(hip - neck) > 0:
        return (hip - neck) / np.linalg.norm(hip - neck)
    return np.array([0.0, 1.0])


def _hip_sides(r_hip, l_hip, out: float):
    """The hips' outer sides: each hip point moved `out` pixels away from the other along the hip line."""
    if r_hip is None or l_hip is None or not np.linalg.norm(l_hip - r_hip) > 0:
        return r_hip, l_hip
    outward = (l_hip - r_hip) / np.linalg.norm(l_hip - r_hip)
    return r_hip - outward * out, l_hip + outward * out


def _ankle_depth(p: dict, down: np.ndarray) -> float | None:
    """How far below the mid-hip (along `down`) the lower visible ankle lies; None without both hips or without an
    ankle (a close-up: the skirt ends where the legs' regions do)."""
    hips = midpoint(p["r_hip"], p["l_hip"])
    ankles = [a for a in (p["r_ankle"], p["l_ankle"]) if a is not None]
    if hips is None or not ankles:
        return None
    return max(float(np.dot(a - hips, down)) for a in ankles)


def cover_region(
    body: np.ndarray, category: str, height: int, width: int, shape: MaskShape | None = None
) -> np.ndarray:
    """The parts `category`'s garment covers, grown by the margin: uint8 0/1 `(height, width)`."""
    shape = shape or SHAPES[category]
    canvas = _Canvas(height, width)
    scale = torso_length(body)
    if scale is None:
        return canvas.image
    p = {name: point(body, name) for name in J}
    neck = p["neck"]
    down = _down(p)
    margin = shape.margin * scale
    arm = (shape.arm_radius + shape.margin) * scale
    forearm = (shape.forearm_radius + shape.margin) * scale
    across = np.array([-down[1], down[0]])
    leg = (shape.leg_radius + shape.margin) * scale
    for part in PARTS[category]:
        if part == "torso":
            spine = (neck, midpoint(p["r_hip"], p["l_hip"]))
            canvas.polygon(
                [
                    _shift(neck, down, -shape.collar_rise * scale),
                    *[_shift(c, across, side * shape.torso_half_depth * scale) for c in spine for side in (1, -1)],
                    p["r_shoulder"],
                    p["l_shoulder"],
                    _shift(p["r_hip"], down, shape.hem_drop * scale),
                    _shift(p["l_hip"], down, shape.hem_drop * scale),
                ],
                margin,
            )
        elif part == "upper_arms":
            canvas.limbs(p, ("shoulder", "elbow"), arm)
        elif part == "forearms":
            for side in ("r", "l"):
                canvas.cone(p[f"{side}_elbow"], p[f"{side}_wrist"], arm, forearm)
        elif part == "pelvis":
            r_out, l_out = _hip_sides(p["r_hip"], p["l_hip"], shape.hip_out * scale)
            canvas.polygon(
                [
                    _shift(r_out, down, -shape.waist_rise * scale),
                    _shift(l_out, down, -shape.waist_rise * scale),
                    r_out,
                    l_out,
                    p["r_knee"],
                    p["l_knee"],
                ],
                margin,
            )
        elif part == "legs":
            canvas.limbs(p, ("hip", "knee", "ankle"), leg)
        elif part == "skirt":
            # The new dress may be a long one that falls straight from the hips' outer sides to the ankles, however
            # close together the legs are (a sheath's hull narrowed to the ankles; the 3DV-TON masks are boxes).
            r_out, l_out = _hip_sides(p["r_hip"], p["l_hip"], shape.hip_out * scale)
            hem = _ankle_depth(p, down)
            falls = [] if hem is None else [_shift(r_out, down, hem), _shift(l_out, down, hem)]
            canvas.polygon(
                [
                    p["r_shoulder"],
                    p["l_shoulder"],
                    p["r_hip"],
                    p["l_hip"],
                    p["r_knee"],
                    p["l_knee"],
                    *falls,
                ],
                margin,
            )
        elif part == "hull":
            # The hull of the outlines is the hull of every pixel (its corners are outline pixels), at a
            # fraction of the points.
            outlines, _ = cv2.findContours(canvas.image, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            if outlines:
                cv2.fillConvexPoly(canvas.image, cv2.convexHull(np.concatenate(outlines)), 1)
    return canvas.image


def keep_region(pose: FramePose, height: int, width: int, shape: MaskShape | None = None) -> np.ndarray:
    """Head, hands and feet where they can be placed: bool `(height, width)`, never repainted (`head.head_region`,
    `hands.hand_regions`, and a disc below each visible ankle, `feet_region`)."""
    feet = feet_region(pose, height, width, shape or MaskShape())
    return head_region(pose, height, width) | hand_regions(pose, height, width) | feet


def feet_region(pose: FramePose, height: int, width: int, shape: MaskShape) -> np.ndarray:
    """A disc below each visible ankle: bool `(height, width)`, empty without a body scale."""
    canvas = _Canvas(height, width)
    scale = torso_length(pose.body)
    if scale is None:
        return canvas.image > 0
    down = _down({name: point(pose.body, name) for name in J})
    for side in ("r", "l"):
        ankle = point(pose.body, f"{side}_ankle")
        if ankle is not None:
            # The foot: a disc whose top touches the ankle (trouser hems reach the ankle, shoes lie below it).
            radius = shape.foot_radius * scale
            canvas.disc(ankle + down * radius, radius)
    return canvas.image > 0


def frame_mask(pose: FramePose, category: str, height: int, width: int, shape: MaskShape | None = None) -> np.ndarray:
    """One frame's agnostic mask, bool `(height, width)`, True = repaint."""
    shape = shape or SHAPES[check_category(category)]
    cover = cover_region(pose.body, category, height, width, shape)
    return (cover > 0) & ~keep_region(pose, height, width, shape)


def agnostic_masks(
    poses: PoseSequence,
    category: str,
    shape: MaskShape | None = None,
    window: int = VOTE_WINDOW,
    quorum: float = VOTE_QUORUM,
    frames: Iterable[np.ndarray] | None = None,
) -> Iterator[np.ndarray]:
    """Agnostic masks of a video from its poses, bool `(H, W)` per frame, in order (a generator).

    Each frame's mask is a vote over the per-frame masks within `window` frames on either side
    (`temporal_vote`), so a pixel that flickers in and out for one frame does not; the frame's own head, hands and
    feet (`keep_region`) are cut out after the vote, so a neighbour's vote never puts them back. With the video's
    `frames` (RGB uint8, one per pose), the skin of a hand bent off its forearm's line (`hands.bent_hands`) and
    long hair that falls over the garment's region are cut out too (`hair.LongHair`: both need the pixels). Frames
    without a pose get an empty mask (nothing to repaint).
    """
    shape = shape or SHAPES[check_category(category)]
    return _voted_masks(poses, category, shape, window, quorum, frames)


def frames_with_masks(
    poses: PoseSequence, category: str, frames: Iterable[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each frame of `frames` (one per pose) with its agnostic mask (`agnostic_masks(..., frames=...)`), holding only
    the frames the temporal vote has read ahead: `itertools.tee` would keep its items in blocks of 57, a block
    freed only when both sides are past all of it (the shipped example's try-on: 120 MB more at its peak)."""
    ahead: deque[np.ndarray] = deque()

    def read() -> Iterator[np.ndarray]:
        for frame in frames:
            ahead.append(frame)
            yield frame

    for mask in agnostic_masks(poses, category, frames=read()):
        yield ahead.popleft(), mask


def _voted_masks(poses: PoseSequence, category: str, shape: MaskShape, window: int, quorum: float, frames):
    # (frame index, head, head and feet, hands, the frame or None): read by the vote, not yet given back
    pending: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = deque()
    pixels = None if frames is None else iter(frames)
    person = None if frames is None else _LatestPerson()
    hair = None if frames is None else LongHair(segment=person)
    lower = LowerGarment() if frames is not None and category == "upper" else None

    height, width = poses.height, poses.width

    def raw() -> Iterator[np.ndarray]:
        for t, pose in enumerate(poses):
            frame = None if pixels is None else next(pixels, None)
            if pixels is not None and frame is None:
                raise ValueError(f"agnostic_masks: {len(poses)} poses but only {t} frames")
            head = head_region(pose, height, width)
            fixed = head | feet_region(pose, height, width, shape)
            pending.append((t, head, fixed, hand_regions(pose, height, width), frame))
            # The hands' regions stay in the vote: given the frame, the garment around a hand is repainted after
            # it (`hands.garment_by_hands`; a hand on the hip would otherwise leave a patch of old garment).
            yield (cover_region(pose.body, category, height, width, shape) > 0) & ~fixed

    for mask in temporal_vote(raw(), window, quorum):
        t, head, fixed, hands, frame = pending.popleft()
        mask &= ~fixed
        if hair is None:
            yield mask & ~hands
            continue
        probability = person(frame)
        # The face's skin colour (about 2 ms) and the garment's colour, read once for both kinds of hand.
        is_skin = skin_test(frame, poses[t])
        garment = garment_near_hands(frame, poses[t], probability, mask, hands, head, is_skin)
        mask &= ~(hands & ~garment_by_hands(frame, poses[t], probability, mask, hands, head, garment, is_skin))
        mask &= ~bent_hands(frame, poses[t], probability, garment)
        mask &= ~hair(frame, poses[t], mask)
        if lower is not None:
            mask &= ~lower(frame, poses[t], probability, mask)
        yield mask


class _LatestPerson:
    """The person segmentation (`PersonSegmentation`) of the latest frame it was asked about, computed once for the
    hands and the hair alike. It holds the frame weakly: the masks keep no decoded frame alive
    (`frames_with_masks`)."""

    def __init__(self) -> None:
        self._segment = None
        self._frame = lambda: None
        self._probability = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self._frame() is not frame:
            if self._segment is None:
                from tryon_cli.preprocess.person_segmentation import PersonSegmentation  # loads the runtime

                self._segment = PersonSegmentation()
            self._frame, self._probability = weakref.ref(frame), self._segment(frame)
        return self._probability


def temporal_vote(masks: Iterable[np.ndarray], window: int, quorum: float = VOTE_QUORUM) -> Iterator[np.ndarray]:
    """Each mask replaced by a vote over the masks within `window` frames of it (fewer at the ends).

    A pixel is on when at least `quorum` of those frames have it (0.4: 2 of 5), so a one-frame flicker is voted
    away, while an edge that moves is kept a little wider rather than trimmed: the old garment must not show.
    """
    buffer: deque[tuple[int, np.ndarray]] = deque()
    centre = 0
    last = -1
    for last, mask in enumerate(masks):
        buffer.append((last, mask))
        while centre + window <= last:
            yield _vote(buffer, centre, window, quorum)
            centre += 1
            while buffer and buffer[0][0] < centre - window:
                buffer.popleft()
    while centre <= last:
        yield _vote(buffer, centre, window, quorum)
        centre += 1
        while buffer and buffer[0][0] < centre - window:
            buffer.popleft()


def _vote(buffer, centre: int, window: int, quorum: float) -> np.ndarray:
    near = [mask for index, mask in buffer if abs(index - centre) <= window]
    return np.sum(near, axis=0) >= max(1, int(np.ceil(quorum * len(near) - 1e-9)))


def apply_agnostic(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame with the masked region filled with grey 128 (ViViD's agnostic frames)."""
    out = frame.copy()
    out[mask] = AGNOSTIC_GREY
    return out
