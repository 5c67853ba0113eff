"""Long hair: the hair that falls from the head over the shoulders, back or chest, which a try-on never repaints.

Conventions as in `preprocess/keypoints.py` (a `FramePose`, OpenPose-18 body in frame pixels); frames are RGB uint8
`(H, W, 3)`, regions bool `(H, W)` in the same pixels (True = hair, keep the source pixel). `LongHair` is called on
each frame of a video in order with its pose and the region a garment may take, and returns the hair inside it.

The pose cannot place hair (with yolo a back view has no head point, which a head above the frame also gives), and
the person silhouette (`person_segmentation.PersonSegmentation`, MediaPipe's selfie model) does not separate hair
from clothes. The cue is the hair's own colour, continuous with the head:

1. The hair's colour is learned where the face is seen (`head.face_box`): the head region's pixels outside the
   face's box that are the person's (silhouette > 0.5) and not skin (`skin`): the hair on and beside the head.
   A video that starts from the back learns it at its first front view; a head never seen gives no hair.
2. In every frame, the garment's colour is learned from the region's person pixels, not skin, at least
   `GARMENT_FROM_HEAD` trunk lengths from the head (below where most hair ends).
3. Each colour is a Gaussian in CIELAB. A pixel of the region, of the person and not skin is hair-coloured when it
   is nearer the hair's colour than the garment's (Mahalanobis distance) and within `MAX_HAIR_DISTANCE` of it.
   When more than `MAX_HAIR_COLOURED` of the garment's own samples are hair-coloured, the garment is of the hair's
   colour (black hair over a black dress) and nothing is taken: cutting hair-coloured garment would leave the old
   garment showing. In a video that holds until fewer than `RELEASE_HAIR_COLOURED` are (hysteresis). Lit
   light-brown hair and shaded skin share one colour: a pixel in the skin box that hair-coloured pixels bridge
   (`BRIDGE`) is taken as hair-coloured too.
4. Hair is the hair-coloured pixels (closed, then opened, by ~1 cm) connected to the head region, or to the hair
   of the frames before (found `SETTLED` frames in a row), within `MAX_FALL` trunk lengths of the head, in the
   columns under it (`SPREAD`: hair hangs), and found in the previous frame as well, within `PERSIST` (hair
   persists; a dark fold taken for hair in one frame does not). A photo, or a video's first frame with a head, has
   no frame before: its hair is taken as found. Joined by the frames before: thin locks over a light top break
   where a few pixels across them fall short of the hair's colour, and cut off from the head for one frame, such a
   lock was lost for good (it was not hair in the frame before the next either), and the new garment drawn over it.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from tryon_cli.preprocess.head import face_box, head_region
from tryon_cli.preprocess.keypoints import FramePose, torso_length

MIN_SAMPLES = 200
"""Fewer samples than this (of the hair, or of the garment in a frame): no colour is learned."""
MIN_FRAME_SAMPLES = 50
"""A front view with fewer hair pixels than this beside its face adds nothing (a bald or shaved head, a hood)."""
MAX_SAMPLES = 20000
"""The hair's colour is learned from the latest front views holding about this many hair pixels."""
GARMENT_FROM_HEAD = 0.6
"""The garment's colour is sampled from the region's person pixels (not skin) at least this many trunk lengths from
the head: most hair ends above (shoulder-length hair falls ~0.3 trunk lengths below the head's region)."""
MAX_HAIR_DISTANCE = 3.0
"""A hair pixel lies within 3 standard deviations (Mahalanobis) of the hair's colour."""
MAX_HAIR_COLOURED = 0.25
"""When more of the garment's samples than this are taken for hair, the garment is of the hair's colour (black hair
over a black dress): the two cannot be told apart and no hair is taken, since cutting hair-coloured garment would
leave the old garment showing. On 3DV-TON model_1 (auburn hair, black coat) at most 0.05 are."""
RELEASE_HAIR_COLOURED = 0.15
"""In a video, a garment once found of the hair's colour (`MAX_HAIR_COLOURED`) stays so until fewer of its samples
than this are taken for hair: the share of a dark garment in shade moves by 0.1 from frame to frame around 0.25
(gallery T6, a black crop top under long black hair: 0.04-0.44), and decided frame by frame, patches of the old
top were kept as hair in one frame and repainted in the next (and so on the checked C12, short black hair over a
grey shirt in shade, 0.06-0.37, where the flicker was seen; C8 enters the hold too). Every other gallery clip
stays at or below 0.20 and never enters it."""
MAX_FALL = 1.2
"""Hair reaches at most this many trunk lengths below the head's region (waist-long hair)."""
SPREAD = 0.35
"""Hair hangs from the head: it lies in the columns under the head region, widened by this share of the region's
width on either side (hair over the shoulders spreads a little wider than the head). On 3DV-TON 1046043 the dark
shaded side of a black dress, connected to the head over the shoulder, was taken for black hair without it."""
GARMENT_STRIDE = 4
"""The garment's colour is read on every 4th row and column: thousands of samples still, at 1/16 of the work."""
OPENING = 0.02
"""The opening's radius in trunk lengths: a bridge of hair-coloured shadow thinner than ~1 cm breaks."""
SKIN_MIN_LUMA = 70
"""Luma (Y, 0-255) below which a pixel is not taken for skin: the shared clips' lit skin is Y 77-230 (the darkest,
a Black model's shins in 3DV-TON 1046043), dark hair Y 10-63."""
BRIDGE = 0.06
"""Colour cannot tell lit light-brown hair from shaded skin: on gallery C4 (a checked case; wild
fashionchameleon_case2, light-brown hair over a white and beige top) lit strands (CIELAB L 88-110, a 138-139, b
141-142) are the colour of her forehead in the shade of her cap, so the face's skin colour takes them (step 3 of
the module), and the new tee was drawn over her hair in blotches of 40-60 pixels (0.1-0.16 trunk lengths) between
the strands it found, every frame. A pixel in the skin box is hair-coloured when such pixels lie within this many
trunk lengths of it on both sides (a closing, `bridged`): position decides where colour cannot. A gap of skin
between two locks wider than 0.12 trunk lengths (twice this; the neck is 0.2 and more) stays skin. Set from those
sizes, not tuned. Pieces the hair enclosed, however wide, were tried as hair too: on C4 every one of them over
0.004 trunk lengths squared (frames 14-108) was her beige top between her locks, up to 0.2, none her hair."""
BRIDGE_CELLS = 8
"""`bridged` closes on a grid of cells no smaller than 1/8 of its radius (2 pixels at C4's radius of 23): a
bridge's edge is then placed to a cell, and the closing costs a fraction (a 700x1000-pixel box at a radius of 33
pixels, as on a 1080x1920 video: 46 ms a frame at full size, 1.2 on the grid)."""
PERSIST = 0.05
"""How far (in trunk lengths) hair may move from one frame to the next: hair is only what was found within this
of the previous frame's hair too."""
SETTLED = 6
"""Frames in a row (a quarter of a second at 24 fps) a pixel must have been found hair before it holds a piece of
hair cut off from the head (step 4): a lock over a light top, broken for a few pixels across, stays hair (gallery C4,
a lock found for 7 frames before it broke), but a patch of garment joined to the head for a frame or two is not
carried on by it (C12's shaded shirt, C8's dark fold, C2's beaded lapel: kept as hair for 4-30 frames more with any
frame's hair holding). Set, not tuned: checked on those clips, which are only checked."""
PERSON = 0.5
"""Silhouette probability above which a pixel is the person's."""


def skin(rgb: np.ndarray) -> np.ndarray:
    """bool `(H, W)`: pixels of an RGB uint8 image inside the YCrCb skin box (Cr 133-173, Cb 77-127; Chai and
    Ngan 1999) and not darker than `SKIN_MIN_LUMA`: the box holds light and dark skin alike, but also dark
    brown and auburn hair (on 3DV-TON model_1, Y 10-63, Cr ~143), which is darker than lit skin."""
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    return (y >= SKIN_MIN_LUMA) & (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)


class Colour:
    """A Gaussian colour model in CIELAB, from `samples (N, 3)`."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.mean = samples.mean(axis=0)
        # A floor on the spread: a flat colour (a rendered test image, a studio black) is not infinitely sharp.
        self.inverse = np.linalg.inv(np.cov(samples, rowvar=False) + np.eye(3) * 4.0)

    def distance(self, lab: np.ndarray) -> np.ndarray:
        d = lab - self.mean
        return np.sqrt(np.einsum("...i,ij,...j->...", d, self.inverse, d))


def hair_samples(
    frame: np.ndarray, head: np.ndarray, face: tuple[int, int, int, int], person: np.ndarray
) -> np.ndarray:
    """bool `(H, W)`: the pixels of a head seen from the front that show its hair: in the head region, outside the
    face's box and above its chin, of the person, not skin."""
    samples = head & (person > PERSON) & ~skin(frame)
    x0, y0, x1, y1 = (max(0, v) for v in face)
    samples[y0:y1, x0:x1] = False
    samples[y1:] = False  # below the chin the head region holds the neck and a collar
    return samples


def garment_colour(
    frame: np.ndarray,
    head: np.ndarray,
    person: np.ndarray,
    region: np.ndarray,
    scale: float,
    is_skin: Callable[[np.ndarray], np.ndarray] = skin,
) -> Colour | None:
    """The colour of what `region` holds away from the head: its person pixels, not skin (`is_skin`), at least
    `GARMENT_FROM_HEAD` trunk lengths from the head, read on every `GARMENT_STRIDE`-th row and column; None with
    fewer than `MIN_SAMPLES`."""
    step = GARMENT_STRIDE
    small = np.ascontiguousarray(frame[::step, ::step])
    core = region[::step, ::step] & (person[::step, ::step] > PERSON) & ~is_skin(small)
    if head.any():  # else (a head out of frame) the whole region is away from it
        away = cv2.distanceTransform((~head[::step, ::step]).astype(np.uint8), cv2.DIST_L2, 5) * step
        core &= away > GARMENT_FROM_HEAD * scale
    samples = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)[core]
    return Colour(samples) if len(samples) >= MIN_SAMPLES else None


def hair_region(
    frame: np.ndarray,
    head: np.ndarray,
    person: np.ndarray,
    region: np.ndarray,
    hair: Colour,
    garment: Colour,
    scale: float,
    face_skin: Colour | None = None,
    before: np.ndarray | None = None,
) -> np.ndarray:
    """The pixels of colour `hair` (not `garment`) below the head inside `region` (see the module), for a person
    of torso length `scale` pixels: bool `(H, W)`, True = hair. With `face_skin` (the colour of the face's skin), a
    pixel in the skin box nearer the hair's colour than the face's is not taken for skin. With `before` (bool: near
    the hair of the frames before, `SETTLED`), a piece of hair-coloured pixels that holds some of it is hair too,
    joined to the head or not."""
    height, width = head.shape
    none = np.zeros((height, width), bool)
    if not head.any() or not region.any():
        return none
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)
    from_head = cv2.distanceTransform((~head).astype(np.uint8), cv2.DIST_L2, 5)
    in_skin_box = skin(frame)
    is_skin = in_skin_box.copy()
    if face_skin is not None:  # lit light-brown hair is in the skin box: skin only if nearer the face's colour
        ys, xs = np.nonzero(is_skin)
        nearer_hair = hair.distance(lab[ys, xs]) < face_skin.distance(lab[ys, xs])
        is_skin[ys[nearer_hair], xs[nearer_hair]] = False
    reach = region & (from_head <= MAX_FALL * scale) & (person > PERSON) & ~head & _below_head(head)
    ys, xs = np.nonzero(reach & ~is_skin)
    if not len(ys):
        return none
    coloured = np.zeros((height, width), np.uint8)
    chosen = _is_hair(hair, garment, lab[ys, xs])
    coloured[ys[chosen], xs[chosen]] = 1
    coloured |= bridged(coloured, reach & in_skin_box, scale)
    coloured = closed_then_opened(coloured, opening_kernel(scale))
    # Connected to the head (or to the hair before): label hair-coloured pixels together with the head, keep the
    # components holding some of it.
    joined = (coloured > 0) | head
    count, labels = cv2.connectedComponents(joined.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[head if before is None else head | (before & (coloured > 0))])
    return np.isin(labels, touching[touching > 0]) & (coloured > 0)


def bridged(coloured: np.ndarray, unsure: np.ndarray, scale: float) -> np.ndarray:
    """uint8 0/1: the `unsure` pixels (in the skin box) that hair-coloured pixels (`coloured`, uint8) bridge: within
    `BRIDGE` trunk lengths of them on both sides (a closing). Colour cannot tell these apart (see `BRIDGE`); where
    it cannot, the hair around decides."""
    # Closed on a coarser grid (`BRIDGE_CELLS`); a cell holds hair where any of its pixels does.
    radius = BRIDGE * scale
    step = max(1, int(radius // BRIDGE_CELLS))
    height, width = coloured.shape
    cells = cv2.resize(coloured, (-(-width // step), -(-height // step)), interpolation=cv2.INTER_AREA) > 0
    cell_radius = max(1, int(round(radius / step)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cell_radius + 1, 2 * cell_radius + 1))
    closed_cells = cv2.morphologyEx(cells.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    closed = np.repeat(np.repeat(closed_cells, step, axis=0), step, axis=1)[:height, :width]
    return ((closed > 0) & unsure).astype(np.uint8)


def opening_kernel(scale: float) -> np.ndarray:
    """The disc of `OPENING` trunk lengths (a person of torso length `scale` pixels), at least 3 pixels across."""
    radius = max(1, int(round(OPENING * scale)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def closed_then_opened(coloured: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """uint8 `coloured` closed, then opened, by `kernel`: gaps of another colour thinner than it are bridged (a
    strand's shadow, a fold), then bridges and specks as thin are removed."""
    return cv2.morphologyEx(cv2.morphologyEx(coloured, cv2.MORPH_CLOSE, kernel), cv2.MORPH_OPEN, kernel)


def face_skin_samples(frame: np.ndarray, face: tuple[int, int, int, int], person: np.ndarray) -> np.ndarray:
    """bool `(H, W)`: the pixels of a face seen from the front that show its skin: in the face's box, of the person,
    in the skin box (`skin`)."""
    samples = np.zeros(frame.shape[:2], bool)
    x0, y0, x1, y1 = (max(0, v) for v in face)
    samples[y0:y1, x0:x1] = (person[y0:y1, x0:x1] > PERSON) & skin(frame[y0:y1, x0:x1])
    return samples


def _below_head(head: np.ndarray) -> np.ndarray:
    """bool `(H, W)`: the columns under the head, widened by `SPREAD` of its width on each side: hair hangs."""
    columns = np.nonzero(head.any(axis=0))[0]
    width = columns[-1] - columns[0] + 1
    below = np.zeros_like(head)
    below[:, max(0, int(columns[0] - SPREAD * width)) : int(columns[-1] + SPREAD * width) + 1] = True
    return below


def _is_hair(hair: Colour, garment: Colour, lab: np.ndarray) -> np.ndarray:
    """bool `(N,)`: which CIELAB colours `lab (N, 3)` are the hair's: nearer it than the garment's, and near."""
    d_hair = hair.distance(lab)
    return (d_hair < MAX_HAIR_DISTANCE) & (d_hair < garment.distance(lab))


class LongHair:
    """The hair of each frame of one person's video, in order: call it on each frame with its pose and the region
    the garment may take. The hair's colour (and the face's skin's) is learned from the frames so far whose face is
    seen (`face_box`); until then no hair is found (a back view at the start, a head above the frame throughout)."""

    def __init__(self, segment: Callable[[np.ndarray], np.ndarray] | None = None):
        self._segment = segment
        self._hair = _LatestColour()
        self._face_skin = _LatestColour()
        self._age: np.ndarray | None = None  # per pixel, the frames in a row (up to `SETTLED`) it was found hair
        self._hair_coloured = False  # the garment was found of the hair's colour and has not left it since

    @property
    def colour(self) -> Colour | None:
        """The hair's colour, once learned."""
        return self._hair.colour

    def __call__(self, frame: np.ndarray, pose: FramePose, region: np.ndarray) -> np.ndarray:
        height, width = region.shape
        hair = np.zeros((height, width), bool)
        head, scale = head_region(pose, height, width), torso_length(pose.body)
        if not head.any() or scale is None:
            self._age = None
            return hair
        if self._segment is None:
            from tryon_cli.preprocess.person_segmentation import PersonSegmentation  # loads the runtime

            self._segment = PersonSegmentation()
        person = self._segment(frame)
        # Everything below works in the box where hair can be (under the head, down to MAX_FALL): a fraction of
        # the frame (on 1080x810 3DV-TON model_1 the whole frame took ~0.08 s a frame).
        rows = np.nonzero(head.any(axis=1))[0]
        cols = np.nonzero(_below_head(head).any(axis=0))[0]
        y0, y1 = int(rows[0]), min(height, int(rows[-1] + MAX_FALL * scale) + 1)
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        crop = (slice(y0, y1), slice(x0, x1))
        box = face_box(pose, height, width)
        if box is not None:
            face = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
            self._hair.learn(frame[crop], hair_samples(frame[crop], head[crop], face, person[crop]))
            self._face_skin.learn(frame[crop], face_skin_samples(frame[crop], face, person[crop]))
        if self.colour is None:
            return hair
        garment = garment_colour(frame, head, person, region, scale)
        if garment is not None:
            share = _is_hair(self.colour, garment, garment.samples).mean()
            limit = RELEASE_HAIR_COLOURED if self._hair_coloured else MAX_HAIR_COLOURED
            self._hair_coloured = bool(share > limit)
        if garment is None or self._hair_coloured:
            self._age = None  # no garment seen, or one of the hair's colour: the two cannot be told apart
            return hair
        # Hair persists: what was hair (or near it) in the frame before as well. A patch of dark garment taken
        # for hair in a single frame (3DV-TON 1046043, frames 71 and 93: a shaded side of a black dress) is not.
        near = settled = None
        if self._age is not None:
            radius = max(1, int(round(PERSIST * scale)))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            # Dilated only in the box, grown by the radius: exactly the whole frame's dilation there, at a fraction
            # of its cost.
            wide = tuple(slice(max(0, side.start - radius), side.stop + radius) for side in crop)
            inner = tuple(slice(side.start - grown.start, side.stop - grown.start) for side, grown in zip(crop, wide))
            age = self._age[wide]
            near = (cv2.dilate((age > 0).astype(np.uint8), kernel) > 0)[inner]
            settled = (cv2.dilate((age >= SETTLED).astype(np.uint8), kernel) > 0)[inner]
        found = hair_region(
            frame[crop],
            head[crop],
            person[crop],
            region[crop],
            self.colour,
            garment,
            scale,
            self._face_skin.colour,
            settled,
        )
        age = np.zeros(hair.shape, np.uint16)
        before = age[crop] if self._age is None else self._age[crop]
        age[crop] = np.where(found, np.minimum(before + 1, SETTLED), 0)
        self._age = age
        hair[crop] = found if near is None else found & near  # a photo, or the first frame with a head: as found
        return hair


class _LatestColour:
    """A colour learned from the latest frames' samples, about `MAX_SAMPLES` of them (the lighting changes)."""

    def __init__(self) -> None:
        self._samples: list[np.ndarray] = []
        self._count = 0
        self.colour: Colour | None = None

    def learn(self, frame: np.ndarray, samples: np.ndarray) -> None:
        """Add the CIELAB colours of `frame`'s pixels where `samples` (bool) holds, if there are enough of them."""
        if samples.sum() < MIN_FRAME_SAMPLES:
            return
        self._samples.append(cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)[samples].astype(np.float32))
        self._count += len(self._samples[-1])
        while self._count - len(self._samples[0]) >= MAX_SAMPLES:  # the latest views: lighting changes
            self._count -= len(self._samples.pop(0))
        if self._count >= MIN_SAMPLES:
            self.colour = Colour(np.concatenate(self._samples))
