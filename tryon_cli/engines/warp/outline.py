"""The garment's trunk widened to the body's outline, where the keypoints alone leave it narrower than the body.

The trunk's affine (`skeleton.trunk_transform`) fits the garment's shoulders and hips to the person's joints. A
body is wider than its joints (the hips' keypoints are the hip joints, well inside the pelvis' outline), and the
old garment on it often wider still (a loose cardigan): fitted to the joints alone, the new tee was a narrower
panel with the old garment showing down both sides (gallery T1, T2, T5, C3, C9). An affine cannot widen the hem
and leave the shoulders where they are (widened as one piece, T1's tee stood out past her shoulders as a box).

So the garment's torso is measured across at a few heights between its shoulders and its hips (on the photo, once),
and each frame the person's body at the same heights (across the spine, from the garment's mapped centre line out to
where the person segmentation or the repaint mask ends, or an arm begins; seen from the side, past an arm that lies
over the spine). Per height and side, the ratio of the two, never below 1 (a garment wider than the body is cut by
the outline already) nor above `MAX_WIDEN`, followed by a running mean so the garment does not breathe with the
segmentation's edge. The garment is then drawn through a `Taper`: widened across its spine by its side's ratio at
each height, interpolated between the heights, 1 at the shoulder line (the shoulders stay on the keypoints' fit) and
the lowest height's below it. Each side on its own, because a body seen at three quarters is wider on the near side
of the shoulders' midpoint: widened by the narrower side's ratio, T1's tee stopped short of her near side and a
strip of cardigan showed between it and the sleeve (frames 24-47). The dresser's fit check judges the garment
widened by the narrower side's ratio on both sides (`Taper.narrower`): a fragment that lies off-centre, stretched to
the body's far side, would pass it (gallery T6 frames 88-90, 179-181 and 185, C8 frames 5 and 24).

Why this and not a silhouette fit per part: see docs/warp_engine.md ("How the fit works").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon_cli.engines.warp.body import LIMB_RADII, capsule
from tryon_cli.engines.warp.stabilize import follow
from tryon_cli.preprocess.keypoints import point, seen_from_side, torso_length

# The heights the widths are measured at, as shares of the way from the shoulders' midpoint to the hips': below the
# armholes (where a flat sleeve joins the torso) and above the hem (a cropped top's hips sit on its hem).
LEVELS = (0.35, 0.55, 0.75)
# The most the garment is widened: a loose old garment or a segmentation that takes in a bag held at the side must not
# turn the new top into a tent. A body's pelvis is about 1.7 times as wide as its hip joints apart; at a first 1.35,
# every measured ratio on T1 stopped at the cap with the cardigan still showing beside the tee, so 1.5.
MAX_WIDEN = 1.5
# An arm beside the trunk stops the body's width: its capsule along the bone, the bare limb's radius
# (`body.LIMB_RADII`) times this, since a sleeve is wider than the arm in it.
ARM_SLACK = 1.5
WIDEN_RATE = 0.2  # weight of this frame's ratio in its running mean (about 5 frames' memory)
ALPHA_ON = 0.5  # garment alpha from which a photo pixel is the garment's


@dataclass(frozen=True)
class Taper:
    """The garment's trunk widened across its spine, in photo pixels: a point at height t (0 at the shoulders'
    midpoint `top`, 1 at the hips', `length` apart along the unit `along`) is drawn `widen(t)` times as far from
    the spine (interpolated between `LEVELS`, 1 at t = 0). `source` maps drawn points to the photo points they
    show."""

    top: np.ndarray
    along: np.ndarray
    length: float
    widen: np.ndarray  # (2, len(LEVELS)): the ratio at each of `LEVELS` on the -across and the +across side

    def source(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The photo point (x, y arrays) that the widened garment shows at photo point (x, y)."""
        across = np.array([-self.along[1], self.along[0]])
        dx, dy = x - self.top[0], y - self.top[1]
        height = (dx * self.along[0] + dy * self.along[1]) / self.length
        side = dx * across[0] + dy * across[1]
        ratio = np.where(
            side < 0,
            np.interp(height, (0.0, *LEVELS), (1.0, *self.widen[0])),
            np.interp(height, (0.0, *LEVELS), (1.0, *self.widen[1])),
        )
        shrink = (1.0 / ratio - 1.0) * side
        return x + shrink * across[0], y + shrink * across[1]

    def narrower(self) -> Taper:
        """The same taper widened on both sides by the narrower side's ratio at each height."""
        return Taper(self.top, self.along, self.length, np.broadcast_to(self.widen.min(axis=0), self.widen.shape))


class TrunkWidth:
    """Per video: the garment torso's edges at `LEVELS` (photo pixels), measured once; per frame (`__call__`), the
    `Taper` that widens it to the body's outline."""

    def __init__(self, torso_alpha: np.ndarray | None, garment_body: np.ndarray) -> None:
        spine = _spine(garment_body)
        self._spine = spine
        self._edges = None if torso_alpha is None or spine is None else _garment_edges(torso_alpha, *spine)
        self.ratios = np.full((2, len(LEVELS)), np.nan)  # the running means, per side and level

    def __call__(
        self, fitted: np.ndarray | None, body: np.ndarray, person: np.ndarray, mask: np.ndarray
    ) -> Taper | None:
        """This frame's taper, from the trunk's keypoint fit `fitted` (2x3, photo -> crop) and where the body is
        (`person & mask`); None without garment edges. Without a fit or a trunk the ratios stay as they were."""
        if self._edges is None:
            return None
        if fitted is not None:
            follow(self.ratios, _ratios(fitted, self._edges, body, person & mask), WIDEN_RATE)
        top, along, length = self._spine
        return Taper(top, along, length, np.nan_to_num(self.ratios, nan=1.0))


def _spine(body: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(the shoulders' midpoint, the unit direction to the hips' midpoint, their distance), or None."""
    joints = [point(body, n) for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")]
    if any(j is None for j in joints):
        return None
    top, bottom = (joints[0] + joints[1]) / 2, (joints[2] + joints[3]) / 2
    length = float(np.linalg.norm(bottom - top))
    return (top, (bottom - top) / length, length) if length > 1.0 else None


def _garment_edges(alpha: np.ndarray, top: np.ndarray, along: np.ndarray, length: float) -> np.ndarray | None:
    """float (len(LEVELS), 3, 2): per level, the point on the spine and the torso's edges across it on the -1 and
    +1 sides, in photo pixels; None where a level's spine point is off the garment."""
    across = np.array([-along[1], along[0]])
    rows = []
    for level in LEVELS:
        centre = top + level * length * along
        sides = [run_length(alpha >= ALPHA_ON, centre, sign * across, length) for sign in (-1, 1)]
        if min(sides) <= 0:
            return None
        rows.append([centre, centre - sides[0] * across, centre + sides[1] * across])
    return np.array(rows)


def _ratios(fitted: np.ndarray, edges: np.ndarray, body: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(2, len(LEVELS)): per side and level, the body's half-width over the garment's as `fitted` draws it, both
    from the garment's mapped spine point, within 1 and `MAX_WIDEN`; NaN where it cannot be measured."""
    out = np.full((2, len(LEVELS)), np.nan)
    scale = torso_length(body)
    if scale is None:
        return out
    arms = np.zeros(inside.shape, np.uint8)
    for side in "rl":
        points = [point(body, f"{side}_{j}") for j in ("shoulder", "elbow", "wrist")]
        for (a, b), bone in zip(zip(points, points[1:]), ("shoulder-elbow", "elbow-wrist")):
            capsule(arms, a, b, ARM_SLACK * LIMB_RADII[bone] * scale)
    free = inside & (arms == 0)
    # Seen from the side, the far arm's keypoints lie across the trunk, over its spine: in front of the body or
    # behind it, not beside it, so the body is measured past it. Seen from the front an arm over the spine is a
    # forearm crossing the trunk, and is not: measured past it, the fit check took a strip of the garment on the
    # dancer's midriff for a fit and drew it, a black slab over her skin and trousers (gallery T6 frames 89-90).
    side_view = seen_from_side(body)
    on_arm = inside & (arms > 0)
    mapped = edges @ fitted[:, :2].T + fitted[:, 2]
    for level, (centre, *sides) in enumerate(mapped):
        for side, edge in enumerate(sides):
            drawn = float(np.linalg.norm(edge - centre))
            if drawn >= 1.0:
                direction = (edge - centre) / drawn
                longest = MAX_WIDEN * drawn + 2
                over = run_length(on_arm, centre, direction, longest) if side_view else 0.0
                reach = run_length(free, centre + over * direction, direction, longest - over)
                reach = reach + over if reach > 0 else 0.0
                # Not on the body at the spine (a forearm across it seen from the front, the segmentation losing a
                # cream cardigan on a white wall), or nothing of it past an arm there: nothing measured. Taken as
                # 1, such frames pulled the running mean down and the tee narrowed for a few frames (T1 frames 14,
                # 27, 37, 40, 41, 44 and 46).
                if reach > 0:
                    out[side, level] = np.clip(reach / drawn, 1.0, MAX_WIDEN)
    return out


def run_length(region: np.ndarray, start: np.ndarray, direction: np.ndarray, longest: float) -> float:
    """How far (pixels) from `start` along `direction` the bool `region` holds without a break; 0 if not at
    `start`, `longest` if it holds all the way."""
    steps = np.arange(0.0, longest)
    xy = np.round(start + steps[:, None] * direction).astype(int)
    height, width = region.shape
    on = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    on[on] = region[xy[on, 1], xy[on, 0]]
    return float(steps[np.argmin(on)]) if not on.all() else float(longest)
