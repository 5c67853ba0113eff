"""Following one person through a video: pure functions on per-frame detections, so each step is testable.

1. `link_tracks`: detections of consecutive frames are joined into tracks by box overlap (a track survives a
   few frames without a match, so a missed detection does not split it).
2. `main_track`: the subject is the track with the most accumulated presence (box size x confidence summed over
   all frames), so a passer-by who is briefly larger does not win.
3. `consistent_sides`: a frame whose left and right joints the detector swapped (it does, flickering, on a
   person seen from the back) is swapped back, so each side's joints move continuously.
4. `interpolate_gaps`: short runs of missing keypoints are filled linearly between the frames around them.
5. `one_euro`: the One-Euro filter (Casiez et al., CHI 2012) per coordinate: strong smoothing when a point is
   still (jitter), a cutoff that rises with speed so fast motion is followed without lag.
`track_detections` chains them on a backend's per-frame detections (`keypoints.Detection`: box, score, points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.preprocess.keypoints import BODY_NAMES, PoseSequence

MAX_GAP_FRAMES = 12
"""Longest run of frames without a detected point that is filled by interpolation (half a second at 24 fps)."""

SWAP_RATIO = 0.5
"""A frame's sides are swapped when, swapped, its paired joints lie at most this fraction of the distance from the
reference frame's (`consistent_sides`) that they lie unswapped: clearly closer (seen from the side, the two
shoulders nearly coincide, and either labelling is as good)."""
MIN_SWAP_DISTANCE = 0.02
"""... and when unswapped they jumped by at least this fraction of the frame height on average."""
CLEAR_SEPARATION = 0.5
"""A frame whose paired joints are at least this fraction of the clip's median distance from their other side's
counterparts says which side is which; closer (a side view, or both shoulders put in the middle) it does not."""
SIDE_MEMORY_FRAMES = 2
"""How many frames after it a clear frame is the reference: the detector's frame with both shoulders put in the
middle, between two swapped ones, is one frame (3DV-TON's model_1, seen from the back), while a real turn through
a side view shows more unclear frames (a half turn in a second at 25 fps: five), after which the detector's own
labels are taken."""
MIRRORED = np.array(
    [BODY_NAMES.index(name.replace("r_", "@").replace("l_", "r_").replace("@", "l_")) for name in BODY_NAMES]
)
"""OpenPose-18 index of each joint's other side's counterpart (the nose and neck are their own)."""


@dataclass
class Candidate:
    """One detected person in one frame: box `(x0, y0, x1, y1)` in pixels and the detector's confidence."""

    box: np.ndarray
    score: float


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def link_tracks(frames: list[list[Candidate]], min_iou: float = 0.2, max_missing: int = 12) -> list[list[int | None]]:
    """Join detections into tracks; returns one list per track giving its candidate index in each frame (or None).

    Matching is greedy by IoU against each track's last box; a track not matched for more than `max_missing`
    frames is closed.
    """
    tracks: list[list[int | None]] = []
    last_box: list[np.ndarray] = []
    last_seen: list[int] = []
    for t, candidates in enumerate(frames):
        open_tracks = [k for k in range(len(tracks)) if t - last_seen[k] <= max_missing + 1]
        pairs = sorted(
            ((box_iou(last_box[k], c.box), k, i) for k in open_tracks for i, c in enumerate(candidates)),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_candidates: set[int] = set()
        for iou, k, i in pairs:
            if iou < min_iou or k in used_tracks or i in used_candidates:
                continue
            tracks[k].append(i)
            last_box[k], last_seen[k] = candidates[i].box, t
            used_tracks.add(k)
            used_candidates.add(i)
        for k in range(len(tracks)):
            if k not in used_tracks:
                tracks[k].append(None)
        for i, candidate in enumerate(candidates):
            if i not in used_candidates:
                tracks.append([None] * t + [i])
                last_box.append(candidate.box)
                last_seen.append(t)
    return tracks


def presence(frames: list[list[Candidate]], track: list[int | None]) -> float:
    """How much a track is 'the subject': sum over frames of sqrt(box area) x confidence."""
    total = 0.0
    for candidates, index in zip(frames, track):
        if index is not None:
            box = candidates[index].box
            total += math.sqrt(max(0.0, (box[2] - box[0]) * (box[3] - box[1]))) * candidates[index].score
    return total


def main_track(frames: list[list[Candidate]], **link_options) -> tuple[list[int | None], int]:
    """The main subject's candidate index per frame (None where it is not detected), and the number of tracks."""
    tracks = link_tracks(frames, **link_options)
    if not tracks:
        return [None] * len(frames), 0
    best = max(tracks, key=lambda track: presence(frames, track))
    return best, len(tracks)


def interpolate_gaps(points: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of at most `max_gap` missing frames (confidence 0) of each keypoint by linear interpolation.

    `points (T, K, 3)`. A filled point gets the lower confidence of the two frames around the gap. Gaps at the
    start or end, or longer than `max_gap`, stay missing: there is nothing on one side to interpolate from.
    """
    out = np.array(points, dtype=np.float32, copy=True)
    present = out[..., 2] > 0
    for k in range(out.shape[1]):
        seen = np.flatnonzero(present[:, k])
        for before, after in zip(seen[:-1], seen[1:]):
            gap = after - before - 1
            if 0 < gap <= max_gap:
                w = (np.arange(1, gap + 1, dtype=np.float32) / (gap + 1))[:, None]
                out[before + 1 : after, k, :2] = (1 - w) * out[before, k, :2] + w * out[after, k, :2]
                out[before + 1 : after, k, 2] = min(out[before, k, 2], out[after, k, 2])
    return out


def consistent_sides(body: np.ndarray, height: int) -> np.ndarray:
    """bool (T,): the frames of `body (T, 18, 3)` whose left and right joints are to be swapped.

    Each frame is decided against the last clear frame (its paired joints at least `CLEAR_SEPARATION` x the clip's
    median apart from their counterparts; as it stands after its own swap) of the last `SIDE_MEMORY_FRAMES`
    frames: a frame in which the detector put both shoulders together is no evidence of either labelling. Past
    that memory (a person turning through a side view) the detector's labels are taken as they are, so a back
    view keeps the anatomical sides that tell it from a front view. A swap needs a clear win (`SWAP_RATIO`) and a
    real jump (`MIN_SWAP_DISTANCE`)."""
    paired = MIRRORED != np.arange(len(MIRRORED))
    seen = body[:, :, 2] > 0
    both_sides = seen & seen[:, MIRRORED] & paired
    separation = np.array(
        [
            np.linalg.norm(points[mask, :2] - points[MIRRORED][mask, :2], axis=1).mean() if mask.sum() >= 2 else 0.0
            for points, mask in zip(body, both_sides)
        ]
    )
    typical = float(np.median(separation[separation > 0])) if (separation > 0).any() else 0.0
    swaps = np.zeros(len(body), bool)
    reference, reference_t = None, None
    for t, points in enumerate(body):
        if not seen[t].any():
            continue
        if reference is not None and t - reference_t <= SIDE_MEMORY_FRAMES:
            mirrored = points[MIRRORED]
            both = paired & seen[t] & (reference[:, 2] > 0) & (mirrored[:, 2] > 0)
            if both.sum() >= 2:
                stay = np.linalg.norm(points[both, :2] - reference[both, :2], axis=1).mean()
                swap = np.linalg.norm(mirrored[both, :2] - reference[both, :2], axis=1).mean()
                swaps[t] = stay >= MIN_SWAP_DISTANCE * height and swap <= SWAP_RATIO * stay
        if separation[t] >= CLEAR_SEPARATION * typical:
            reference, reference_t = (points[MIRRORED] if swaps[t] else points), t
    return swaps


def _smoothing_factor(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(
    points: np.ndarray,
    fps: float,
    scale: float,
    min_cutoff: float = 1.0,
    beta: float = 20.0,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """One-Euro filter along time for each keypoint coordinate of `points (T, K, 3)`; confidences unchanged.

    Positions are divided by `scale` (the frame height) before filtering so that the parameters do not depend
    on the resolution: `min_cutoff` (Hz) sets the smoothing of a still point, `beta` how fast the cutoff rises
    with speed (in frame heights per second). The filter restarts after a missing frame.
    """
    out = np.array(points, dtype=np.float32, copy=True)
    dt = 1.0 / fps
    a_d = _smoothing_factor(d_cutoff, dt)
    for k in range(out.shape[1]):
        prev = prev_d = None
        for t in range(out.shape[0]):
            if out[t, k, 2] <= 0:
                prev = None
                continue
            x = out[t, k, :2].astype(np.float64) / scale
            if prev is None:
                prev, prev_d = x, np.zeros(2)
                continue
            d = a_d * (x - prev) / dt + (1 - a_d) * prev_d
            a = _smoothing_factor(min_cutoff + beta * np.abs(d), dt)
            prev = a * x + (1 - a) * prev
            prev_d = d
            out[t, k, :2] = prev * scale
    return out


def _ranges(frames: Iterable[int]) -> str:
    """'0-3, 7, 9-10' for frames [0, 1, 2, 3, 7, 9, 10]."""
    parts, run = [], []
    for f in frames:
        if run and f != run[-1] + 1:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(f)
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)


def require_person(poses: PoseSequence, source: str, first_frame: int = 0) -> None:
    """InputError when no frame of `poses` has a body point: a detector's box without keypoints (a wall, a
    shadow) is no person, and a try-on of nobody would only re-encode the input (issue 24)."""
    if not poses.found_frames().any():
        count = len(poses.body)
        raise InputError(f"no person found in {source} (frames {first_frame}-{first_frame + count - 1})")


def track_detections(
    detections: list[list],
    height: int,
    width: int,
    fps: float,
    backend: str = "",
    source: str = "the video",
    smooth: bool = True,
    first_frame: int = 0,
) -> PoseSequence:
    """The main subject's poses from per-frame detections: track, fill short gaps, filter jitter.

    Raises InputError when no frame has a person (a box without keypoints is none). Frames where the subject stays
    missing after interpolation keep confidence 0 everywhere, and are named in `notes` (numbered from `first_frame`,
    the first one's index).
    """
    count = len(detections)
    candidates = [[Candidate(d.box, d.score) for d in frame] for frame in detections]
    chosen, n_tracks = main_track(candidates)
    if all(index is None for index in chosen):
        raise InputError(
            f"no person found in {source} (frames {first_frame}-{first_frame + count - 1})"
            if count
            else f"{source} has no frames"
        )
    picked = [None if i is None else frame[i] for frame, i in zip(detections, chosen)]
    has_hands = any(d is not None and d.hands is not None for d in picked)
    body = np.zeros((count, 18, 3), np.float32)
    hands = np.zeros((count, 2, 21, 3), np.float32) if has_hands else None
    face = np.zeros((count, 68, 3), np.float32) if has_hands else None
    wholebody = np.zeros((count, 133, 3), np.float32) if has_hands else None
    for t, d in enumerate(picked):
        if d is not None:
            body[t] = d.body
            if has_hands and d.hands is not None:
                hands[t], face[t], wholebody[t] = d.hands, d.face, d.wholebody

    swapped = consistent_sides(body, height)
    body[swapped] = body[swapped][:, MIRRORED]
    if hands is not None:
        hands[swapped] = hands[swapped][:, ::-1]  # (2, 21, 3): the left hand, then the right one
    # `wholebody` (kept as the detector gave it, drawn nowhere) and the face are not swapped.

    def refine(points: np.ndarray) -> np.ndarray:
        flat = points.reshape(count, -1, 3)
        flat = interpolate_gaps(flat, MAX_GAP_FRAMES)
        if smooth:
            flat = one_euro(flat, fps=fps, scale=float(height))
        return flat.reshape(points.shape)

    poses = PoseSequence(
        body=refine(body),
        height=height,
        width=width,
        backend=backend,
        fps=fps,
        hands=None if hands is None else refine(hands),
        face=None if face is None else refine(face),
        wholebody=None if wholebody is None else refine(wholebody),
    )
    require_person(poses, source, first_frame)
    crowded = sum(1 for frame in detections if len(frame) > 1)
    if n_tracks > 1 and crowded:
        poses.notes.append(f"{crowded} frame(s) of {source} show several people; following the main subject")
    empty = np.flatnonzero(~poses.found_frames())
    if len(empty):
        poses.notes.append(
            f"no person in frame(s) {_ranges((empty + first_frame).tolist())} of {source}; left without a pose"
        )
    return poses
