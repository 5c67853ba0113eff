"""The head: the region a try-on never repaints, from whatever head points are visible, and the face's box.

Conventions as in `preprocess/keypoints.py`: a `FramePose` with an OpenPose-18 body `(18, 3)` of (x, y,
confidence) in frame pixels (a point below `DRAW_THRESHOLD` is missing), optionally DWPose's 68 face points. The
results are in the same frame's pixels: `head_region` a bool `(height, width)` image (True = head, keep the source
pixel), `face_box` an `(x0, y0, x1, y1)` box (x1, y1 exclusive, clipped to the frame) that `head_region` contains
whole.

The model: the head is an ellipse from the crown to just below the chin, centred on the eye line (which halves a
head's height), its long axis along the head's "up" (from the neck to the head's centre). Its size is the larger of
two estimates, so a profile (eyes and ears close together) or a bent torso (short in the image) does not shrink it:
`HEAD_PER_TORSO` trunk lengths, and `HEAD_PER_SPREAD` times the spread of the visible nose, eyes and ears. Where it
is drawn from:

- any of the nose, eyes, ears (a face, a profile, a back view with the ears only): their centre;
- DWPose's face points: their outline too (the jaw line reaches the chin exactly);
- no head point, or only one (the head at or beyond the frame's edge: the detector then loses the eyes first): also
  the head placed above the neck along the body's axis, at the distance measured on the shared clips. The ellipse
  is clipped by the frame, so a head partly out of frame keeps what is in it. A point on the frame's edge does not
  count: detectors put a point that lies beyond the frame there, so it says only "at or beyond the edge".

Where the pixels are a crop of the frame (the warp engine's) that reaches past the frame's border, the frame's edge
is not the image's: `interior` (`frame_interior` mapped into the crop) says where points are located. Judged by the
crop's own border instead, a head above the frame had its eyes taken as lying on the crop's grey padding, a face
box hung from them down over the collar, and the new tee was cut square there (gallery T1, frames 1-47).

Only the hairline-to-chin part of long hair is inside; hair that falls over the shoulders is not modelled here.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.preprocess.keypoints import DRAW_THRESHOLD, FramePose, midpoint, point, torso_length

HEAD_POINTS = ("nose", "r_eye", "l_eye", "r_ear", "l_ear")
HEAD_PER_TORSO = 0.4
"""Head height (crown to chin) in trunk lengths (neck to mid-hip). Adults: ~23 cm over a ~52 cm trunk (0.44); the
shared clips' ear-to-ear widths (0.21-0.29 trunk lengths, ~2/3 of a head's height) give 0.32-0.43."""
HEAD_PER_SPREAD = 1.6
"""Head height over the largest distance between two visible head points: ear to ear (~14 cm) or ear to nose in
profile (~12 cm) against a ~23 cm head."""
NOSE_BELOW_EYES = 0.2
"""The nose tip lies this many head heights below the eye line (the head's centre) along the head's axis."""
EYES_ABOVE_NECK = 0.7
"""Eye line above the neck point (the shoulders' midpoint), in head heights: 0.25-0.31 trunk lengths on the shared
ViViD and 3DV-TON clips (median 0.29), i.e. ~0.7 head heights."""
HALF_LENGTH_UP = 0.62
"""The ellipse's half length from the eye line up to the crown, in head heights: half the head (0.5) and room for
hair above the crown."""
HALF_LENGTH_DOWN = 0.55
"""... and from the eye line down past the chin: the chin (0.5) and 0.05 for its error; more takes the neck, which
a new collar may cover (on ViViD upper1, whose head is above the frame, 0.62 kept 0.5 % of the reference's neck)."""
HALF_WIDTH = 0.42
"""The ellipse's half width, in head heights: a head is ~0.65 of its height wide, ~0.8 deep in profile; with the
ears and hair."""
FACE_HALF_LENGTH, FACE_HALF_WIDTH = 0.5, 0.32
"""The face's extent from the eye line (hairline to chin) and across (cheek to cheek), in head heights: the box
`face_box` bounds."""
FACE_POINT_MARGIN = 0.08
"""How far (in head heights) DWPose's face outline is grown: the jaw points lie on the chin's edge."""
MIN_FACE_POINTS = 10
"""DWPose's face has 68 points; with fewer than this many confident ones (a face mostly turned away, blurred or at
the frame's edge) their hull is a sliver or a few stray points, and the head's region from the body's head points
already holds the face: the outline is added only above it."""
EDGE = 2
"""Pixels from the frame's edge within which a head point counts as clamped there by the detector."""

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in the pose's pixels, x1 and y1 exclusive."""


def frame_interior(height: int, width: int) -> Box:
    """Where a keypoint of a `height` x `width` frame says where it is: `EDGE` pixels or more inside its border."""
    return (EDGE, EDGE, width - EDGE, height - EDGE)


def head_region(pose: FramePose, height: int, width: int, interior: Box | None = None) -> np.ndarray:
    """The head of `pose` (crown to chin, ear to ear, the hair on it), bool `(height, width)`; empty without a body.
    `interior`: where keypoints are located, if not `frame_interior(height, width)` (a crop reaching past the
    frame)."""
    interior = interior or frame_interior(height, width)
    image = np.zeros((height, width), np.uint8)
    for centre, up, size in _head_geometries(pose.body, interior):
        _half_ellipse(image, centre, up, HALF_LENGTH_UP * size, HALF_WIDTH * size)
        _half_ellipse(image, centre, -up, HALF_LENGTH_DOWN * size, HALF_WIDTH * size)
    box = face_box(pose, height, width, interior)
    if box is not None:
        x0, y0, x1, y1 = box
        image[y0:y1, x0:x1] = 1
    face = _face_points(pose)
    if face is not None:
        hull = cv2.convexHull(np.round(face).astype(np.int32))
        cv2.fillConvexPoly(image, hull, 1)
        size = _head_size(pose.body, {})
        if size:
            cv2.polylines(image, [hull], True, 1, max(1, int(round(2 * FACE_POINT_MARGIN * size))))
    return image > 0


def face_box(pose: FramePose, height: int, width: int, interior: Box | None = None) -> tuple[int, int, int, int] | None:
    """The face's box `(x0, y0, x1, y1)` (hairline to chin, cheek to cheek; x1, y1 exclusive, clipped to the frame)
    where the head keypoints (nose, eyes, ears) say there is a head; None when none is visible or the box lies
    outside the frame. Placed from the head points, or from the neck when every visible head point sits on the
    frame's edge (a detector puts a point that lies beyond the frame on its edge, so those do not say where).

    It is what "the face" means in checks that the face is never repainted: `head_region` contains it whole.
    `interior` as in `head_region`.
    """
    points = located_head_points(pose.body, interior or frame_interior(height, width))
    if points:
        geometry = _from_head_points(pose.body, points)
    elif any(point(pose.body, n) is not None for n in HEAD_POINTS):
        geometry = _from_neck(pose.body, points)
    else:
        return None
    if geometry is None:
        return None
    centre, up, size = geometry
    across = np.array([-up[1], up[0]])
    corners = [
        centre + up * FACE_HALF_LENGTH * size * a + across * FACE_HALF_WIDTH * size * b
        for a in (-1, 1)
        for b in (-1, 1)
    ]
    x0, y0 = np.floor(np.min(corners, axis=0)).astype(int)
    x1, y1 = np.ceil(np.max(corners, axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return (int(x0), int(y0), int(x1), int(y1)) if x0 < x1 and y0 < y1 else None


def located_head_points(body: np.ndarray, interior: Box) -> dict[str, np.ndarray]:
    """The visible nose, eyes and ears inside `interior`, by name: not on the frame's edge (there they only say "at
    or beyond")."""
    x0, y0, x1, y1 = interior
    found = {}
    for name in HEAD_POINTS:
        p = point(body, name)
        if p is not None and x0 <= p[0] < x1 and y0 <= p[1] < y1:
            found[name] = p
    return found


def _head_size(body: np.ndarray, points: dict[str, np.ndarray]) -> float | None:
    """Head height in pixels: the larger of the trunk's and the head points' estimates (see the module)."""
    scale = torso_length(body)
    head = list(points.values())
    spread = max((float(np.linalg.norm(a - b)) for a in head for b in head), default=0.0)
    estimates = [HEAD_PER_SPREAD * spread] + ([HEAD_PER_TORSO * scale] if scale else [])
    size = max(estimates)
    return size if size > 0 else None


def _body_up(body: np.ndarray) -> np.ndarray:
    """Unit vector up the body (mid-hip to neck), else perpendicular to the shoulders, else the image's up."""
    neck, hip = point(body, "neck"), midpoint(point(body, "r_hip"), point(body, "l_hip"))
    if neck is not None and hip is not None and np.linalg.norm(neck - hip) > 0:
        return (neck - hip) / np.linalg.norm(neck - hip)
    rs, ls = point(body, "r_shoulder"), point(body, "l_shoulder")
    if rs is not None and ls is not None and np.linalg.norm(ls - rs) > 0:
        normal = np.array([(ls - rs)[1], -(ls - rs)[0]]) / np.linalg.norm(ls - rs)
        return normal if normal[1] <= 0 else -normal  # the side pointing up the image: a shoulder line is level-ish
    return np.array([0.0, -1.0])


Geometry = tuple[np.ndarray, np.ndarray, float]
"""(centre on the eye line, unit vector up the head, head height in pixels)."""


def _from_head_points(body: np.ndarray, points: dict[str, np.ndarray]) -> Geometry | None:
    """The head from the head points `points`: eyes and ears lie on the eye line, the nose below it."""
    size = _head_size(body, points)
    level = [p for n, p in points.items() if n != "nose"]
    if size is None or (not level and "nose" not in points):
        return None
    up = _body_up(body)
    neck = point(body, "neck")
    rough = np.mean(level, axis=0) if level else points["nose"]
    if neck is not None and np.linalg.norm(rough - neck) > 0.25 * size:
        up = (rough - neck) / np.linalg.norm(rough - neck)  # the head's own axis: it tilts and turns on the neck
    centre = np.mean(level, axis=0) if level else points["nose"] + up * NOSE_BELOW_EYES * size
    return centre, up, size


def _from_neck(body: np.ndarray, points: dict[str, np.ndarray]) -> Geometry | None:
    """The head placed above the neck along the body's axis; None without a neck or a scale."""
    neck, size = point(body, "neck"), _head_size(body, points)
    if neck is None or size is None:
        return None
    up = _body_up(body)
    return neck + up * EYES_ABOVE_NECK * size, up, size


def _head_geometries(body: np.ndarray, interior: Box) -> list[Geometry]:
    """The head from its points, and from the neck as well when one point or none is off the frame's edge."""
    points = located_head_points(body, interior)
    found = [_from_head_points(body, points) if points else None]
    if len(points) <= 1:
        found.append(_from_neck(body, points))
    return [g for g in found if g is not None]


def _face_points(pose: FramePose) -> np.ndarray | None:
    if pose.face is None:
        return None
    face = pose.face[pose.face[:, 2] >= DRAW_THRESHOLD, :2].astype(np.float64)
    return face if len(face) >= MIN_FACE_POINTS else None


def _half_ellipse(
    image: np.ndarray, centre: np.ndarray, towards: np.ndarray, half_length: float, half_width: float
) -> None:
    """Fill the half of an ellipse that lies on the `towards` side of `centre`, its `half_length` axis along
    `towards` (cv2's angle is that of its first axis; the sector from -90 to 90 degrees is that half)."""
    angle = float(np.degrees(np.arctan2(towards[1], towards[0])))
    axes = (max(1, int(round(half_length))), max(1, int(round(half_width))))
    cv2.ellipse(image, (int(round(centre[0])), int(round(centre[1]))), axes, angle, -90, 90, 1, -1)
