"""One frame dressed: the new garment drawn over the source, and nothing else changed.

A pixel of the output differs from the source only where the new garment is drawn. Nothing is painted in place
of the old garment: where the new one does not cover it (a short sleeve over an old long one, a top over an old
dress), the old garment stays and reads as a layer underneath; no background, no skin, no bare torso is ever made
up. The garment itself is drawn only
- below the collar: the torso's parts end just above the neck keypoint (`body.below_neck`);
- inside the repaint mask, and never on the head, hands or feet (`preprocess.masks.keep_region`) nor in the face
  box with the hair beside it (`body.face_box`), also where a user's mask covers them (of the hands' regions, the
  garment around the hand is drawn over: `_kept`), the torso's corners by the head rounded off where these
  straight cuts meet each other or a sleeve (`head_corners`), and, seen from the side, no sliver of a top's torso
  left beside the near forearm (`slivers`); after these cuts, no scrap of a sleeve apart from the trunk's garment
  (`fragments`: a sleeve's cuff beyond the face box), and a hole the warp left inside the garment filled where it
  lies on the person (`fill_holes`: the photo's silhouette has none),
- on this person: within `OUTLINE_MARGIN` of the learned person segmentation (`preprocess.person_segmentation`),
  so a garment wider than the body does not spill onto the room (where the segmentation misses the trunk, within
  the pose's envelope of the body too), and not on the room the segmentation takes in, seen in a gap between an
  arm and the trunk that opens onto it (`room.room_seen`, from the source's colours; not where the envelope is on:
  there the segmentation has lost the person and its outside is no sample of the room), and
- behind the person's own forearms where they cross in front of the trunk, and (a lower garment) behind the arms
  that hang in front of the hips: there the source's arm and hand stay.
On a back view (`frame_state.Facing`: no nose or eye seen) the garment is drawn without its front's print: every
part in the garment's main colour (`plain_layers`), under the source's folds; and long hair over the back (below
the head, unlike the old garment's colour: `body.back_hair`) stays in front of it.
A frame whose garment covers less than `FITS` of the trunk's core (`_fit_share`) is a fragment, not a garment worn:
the source frame is returned instead, and the engine's note names it with the frames it could not dress.

Layers, back to front: the source; the garment's trunk parts (torso, skirt); its limbs (sleeves, trouser legs),
with a sleeve's root turned part of the way between torso and arm to fill the wedge over the shoulder, under the
torso; on a body seen from the side (`preprocess.keypoints.seen_from_side`) the far arm's sleeve is under the torso
too. The garment is multiplied by the source's shading (`body.shading`, measured on the cloth under it). The maps
and their residual fields come from `frame_state.FrameState`, which follows the source's optical flow; near its
outline the drawn garment is half the last frame's, moved along that flow (`carry_over`), so the outline does not
jitter.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp import body as bodies
from tryon_cli.engines.warp.fields import warp_part
from tryon_cli.engines.warp.frame_state import FrameState
from tryon_cli.engines.warp.matte import garment_matte
from tryon_cli.engines.warp.motion import part_samples
from tryon_cli.engines.warp.outline import Taper, TrunkWidth
from tryon_cli.engines.warp.room import room_seen
from tryon_cli.engines.warp.skeleton import blend, label_parts, parts_for, root_weight
from tryon_cli.preprocess.conditioning import GarmentInput
from tryon_cli.preprocess.hair import skin
from tryon_cli.preprocess.hands import face_skin, garment_by_hands, garment_near_hands, hand_regions, hand_skin
from tryon_cli.preprocess.head import Box, head_region
from tryon_cli.preprocess.keypoints import FramePose, near_arm, seen_from_side
from tryon_cli.preprocess.masks import MaskShape, feet_region

EDGE_SOFTNESS = 0.004  # blur of the arms' and the outline's edges, in crop heights
# The blur of the cut along the room seen in a gap (`room.room_seen`), in crop heights (0.7 pixels of a 459-pixel
# crop): the room is kept, so its edge is blurred only enough for paste-back's scaling not to show stairs. At
# EDGE_SOFTNESS the garment's soft edge tinted most of a 20-pixel gap (gallery C2 frame 58: 7,026 of the wall's
# pixels still changed by more than 16 levels); cut hard, the sleeve's edge against the wall was stairs (C2 frame 1).
ROOM_SOFTNESS = 0.0015
BODY_FADE = 0.03  # how far off the old cloth the source's shading fades out, in crop heights
ROI_MARGIN = 0.04  # the working box's margin around the mask, in crop heights
# The widest gap between the garment's parts that is closed, in crop heights (13 pixels of the 512-pixel crop). The
# torso part, widened to the body's outline, and a sleeve on a hanging arm need not meet: on the shipped example
# (T1, frames 24-47) a strip of the old cardigan 8-15 pixels wide ran from the shoulder down between the tee and
# its left sleeve, which 0.012 (7 pixels) left open; so did the white, grey and cream tops between torso and
# sleeve on gallery C3, C4 and C6.
CRACK = 0.025
CRACK_SEEN = 0.02  # a closing that adds less alpha than this is no crack
# The radius, in crop heights (10 pixels of the 512-pixel crop), that rounds the garment's corners by the head
# (`head_corners`). The cuts there are straight lines and boxes (the neck line, the face boxes), and where they
# meet each other or a sleeve's top the garment ended in steps of right angles, the old garment showing in
# rectangles beside the neck (gallery C3 frame 48, head bowed; T1 and T2 beside the collar). Chosen on T1 and,
# breaking the gallery's split (C3 is a case only checked), on C3, where the steps show most: 0.035 cut the
# shoulders away from C3's sleeves, leaving them as wings apart from the tee.
NECKLINE = 0.02
# On a body seen from the side, of the torso's garment beside the near forearm (`body.near_forearm_zone`), what is
# thinner than this (crop heights: 20 pixels of 512) is removed (`slivers`): the masks leave the skirt in the mask
# near the arm (`preprocess.lower_garment.ARM_RADIUS`), and there the tee hung down beside her forearm as a tail
# narrower than that over the skirt's top (T1 frames 0-11, the README's first picture). Only there, and only for a
# top (the only garment whose mask leaves a lower garment out): over the whole garment it also cut the strips of new
# garment between a hand's cut-outs on the belly, leaving thin lines of it and a larger patch of the old garment (T4
# frame 55); on a dress it cut the skirt apart beside the hanging hand, a band of the old dress across it (T3 frame
# 12, C2 frame 45).
SLIVER = 0.04
# The in-between turns of a sleeve's root (see `GarmentDresser.__init__`), and the blur of the root's copies, in
# heights of the garment picture (4 pixels of 512). Each copy has its own edge, the sleeve's underside at that turn:
# on gallery C3 (arms raised, frames 10, 48 and 85) two or eight sharp copies drew a comb of dark lines across the
# wedge; five blurred ones merge into one shape. That shape's alpha is then ramped from 0 at HARD[0] to 1 at
# HARD[1], so its outline is as sharp as the parts' own: left soft, it was a blurred halo beside the sleeves (T2
# frame 6, T4 frame 48).
ROOT_STEPS = (1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6)
ROOT_BLUR = 0.008
HARD = (0.4, 0.6)
# How far past the segmented person (probability 0.5) the garment may reach, in crop heights (3 pixels of the 512-pixel
# crop): the segmentation's edge is a few pixels inside a loose sleeve or a skirt's hem, and cut there the garment
# looked clipped (T1). At 0.015 (8 pixels) it was wider than the gap between a full-length figure's legs and half a
# slim arm: trousers bridged the legs and ran onto the floor below the old hem (gallery C1, C11), sleeves stood out
# over the room beside raised arms (C3).
OUTLINE_MARGIN = 0.006
PERSON = 0.5  # the segmentation's probability from which a pixel is the person
# The share of the trunk's core (the shoulder-hip quadrilateral shrunk by a third) the segmentation must cover, on
# its running mean, for its outline alone to bound the garment; below it the pose's envelope of the body is added
# (T1's cream cardigan on a white wall: the mean stays 0-0.89). With hysteresis: the envelope goes off above 0.9 and
# comes back below 0.8 (indexed by whether it is on now). The envelope always on let a garment that lagged a fast turn
# spill onto the room (T5).
SEGMENTED = {True: 0.9, False: 0.8}
SEGMENTED_RATE = 0.1  # weight of this frame's share in its running mean (about 10 frames' memory)
# The kept head, hands and feet grown by 3 crop pixels (`_kept`). 2 were not enough where the crop is scaled up 3x
# (3DV-TON model_1, 810x1080, in a 270x459 crop): a dress's shoulder drawn up to the head region beside her neck
# changed 23 full-size pixels inside it in one frame (gallery C2, frame 27).
KEEP_KERNEL = np.ones((7, 7), np.uint8)
# The trunk's core that a top or a dress covers whatever its cut: the shoulder-hip quadrilateral shrunk by FIT_CORE
# towards its centre (a cropped top still reaches past its middle).
FIT_CORE = 0.25
MIN_CORE = 50  # pixels of the core, at least, for its share to say anything
# The share of the core a drawn garment must cover (`_fit_share`), with hysteresis (indexed by whether the garment
# is drawn now): drawn until it falls below 0.7, drawn again from 0.8. Chosen on the tuning clips: every frame of T1
# covers 0.82 or more, of T2 0.79, of T7 1.0; the frames of T5 whose hoodie hangs off a shoulder or lies beside her as
# she turns (frames 103-123, 0.0-0.68) and those of T6 whose vest is a strip beside the swinging arms (0.0-0.67) are
# the fragments it removes.
FITS = {True: 0.7, False: 0.8}
# A piece of the garment apart from the trunk's (torso, skirt) that holds less than this share of the limb part it lies
# on most is a scrap, not a sleeve, and is not drawn (`fragments`): most of that sleeve is cut away. On gallery T6
# (arms raised, the detector bending them over her head) the face box cut the sleeves in two and left their ends
# apart: a lace cuff floating in the sky between her raised hands, a strip of sleeve beside her hair (frames 14-19,
# pieces of 106-229 crop pixels, 0.11-0.38 of their sleeve). Whole sleeves apart from the torso lie on their arms and
# stay (frame 13, arms held out: 0.87 and more; a piece may hold more than its part, with a root's wedge).
SCRAP = 0.5
# A hole inside the drawn garment (`fill_holes`) is filled when at least this share of it lies where a garment may be
# drawn on the segmented person: T5's holes in the hoodie (frames 22-37 and 112) lie wholly on her; C5's disc of wall
# between her bent arm and her waist (frame 14) mostly off her.
HOLE_ON_PERSON = 0.9
HOLE_INPAINT_RADIUS = 3  # pixels around each inpainted pixel that `cv2.inpaint` reads
SEEN = 0.5 / 255  # garment alpha below which a pixel stays the source's, bit for bit (it rounds to no change)
# The garment's outline, cut afresh each frame from the pose, the segmentation and the masks, jitters by a pixel or
# two, and against the source's flow that is most of the warping error: on the example (gallery T1) 8.9x of its
# 14.7x lay within 0.5 % of the frame's height of the garment's outline (`benchmarks/warp_error_regions.py`). So within
# CARRY_BAND of this frame's outline (crop heights: 1 pixel of a 512-pixel crop) each drawn pixel is CARRY this
# frame's and the rest the last frame's drawn garment moved along the source's flow (`carry_over`): T1 14.7x ->
# 12.5x, every gallery case 2.5-15 % lower. Wider, the metric fell further and the looks got worse: where the outline
# moved farther than the flow (T1 frames 13-15, as she turns; C3 frame 84, an arm swung) a grey translucent fringe
# trailed the garment's edge, 2 crop pixels wide at 0.004 (T1 10.5x), 5 at 0.01 (8.9x); carried over the whole
# garment (6.97x) the print doubled and ghost sleeves hung where the tee had been.
CARRY = 0.5
CARRY_BAND = 0.002


class GarmentDresser:
    """Per-video state (the garment cut into parts, the trackers) and the per-frame rendering. `skipped`: the
    frames returned as the source (no trunk, nothing to repaint, no garment)."""

    def __init__(self, garment: GarmentInput, segmentation) -> None:
        self.category = garment.category
        garment_body = garment.landmarks.as_body()
        self.parts = parts_for(self.category, garment_body)
        colour, alpha = garment_matte(garment.image)
        # Premultiplied RGBA per part, so warping blends edges correctly.
        alphas = label_parts(alpha, garment_body, self.parts)
        self.layers = [np.dstack([colour * a[..., None], a]) for a in alphas]
        self.back_layers = plain_layers(colour, alpha, alphas)
        # Where a sleeve joins the torso, copies of its root turned part of the way from the torso's warp to the
        # arm's fill the wedge that opens over the shoulder when the arm hangs lower than the sleeve was laid flat,
        # or under it when the arm is raised (drawn under the torso, `ROOT_STEPS`).
        weights = [root_weight(part, garment_body, alpha.shape) for part in self.parts]
        blur = ROOT_BLUR * alpha.shape[0]
        self.roots = {
            back: [None if w is None else cv2.GaussianBlur(layer * w[..., None], (0, 0), blur) for layer, w in pairs]
            for back, pairs in ((False, zip(self.layers, weights)), (True, zip(self.back_layers, weights)))
        }
        samples = {part.name: part_samples(layer[..., 3]) for part, layer in zip(self.parts, self.layers)}
        # The trunk's map carries every non-limb part; trousers have none, and their trunk (the hips) carries the
        # legs' pixels.
        trunk_parts = [p for p in self.parts if not p.limb] or self.parts
        samples["trunk"] = np.concatenate([samples[p.name] for p in trunk_parts])
        torso = next((a for part, a in zip(self.parts, alphas) if part.name == "torso"), None)
        self.state = FrameState(self.parts, garment_body, samples, TrunkWidth(torso, garment_body))
        self.segmentation = segmentation
        self.has_garment = bool((alpha > 0.5).any())
        self.segmented: float | None = None  # the running mean of `_seen_share`
        self.enveloped = True  # whether the pose's envelope bounds the garment too
        self.skipped: list[int] = []  # frames returned as the source: no trunk, nothing to repaint, no garment
        self.unsure: list[int] = []  # ... and frames whose garment covered too little of the trunk (`FITS`)
        self.fitting = True  # whether the garment is drawn (False: its fit fell below `FITS`)
        # The last frame's drawn garment (premultiplied RGBA of its box) and the box's origin in the crop.
        self.carried: tuple[np.ndarray, tuple[int, int]] | None = None

    def __call__(self, frame: CropFrame) -> np.ndarray:
        source, mask = frame.source, frame.mask
        probability = self.segmentation(source)
        person = probability >= PERSON
        step = self.state.step(frame, person)  # every tracker moves on, whether or not this frame is dressed
        if step.trunk is None or not mask.any() or not self.has_garment:
            self.skipped.append(frame.index)
            self.carried = None
            return source.copy()
        keep, head = _kept(frame.pose, source, person, mask, frame.interior)
        # All the work happens in the mask's box (plus a margin for the blurs): a third of the crop or less.
        (y0, y1), (x0, x1) = _box(mask, round(ROI_MARGIN * mask.shape[0]))
        box = (slice(y0, y1), slice(x0, x1))
        layer, ceiling, fit = self._dress(
            source[box],
            mask[box],
            probability[box],
            keep[box],
            _inside(mask.shape, frame.interior)[box],
            head[box],
            _moved(step.body, -x0, -y0),
            step.maps,
            step.fields,
            step.taper,
            (x0, y0),
            step.back,
            step.lighting,
            step.crossing,
            step.lifts,
            mask.shape[0],
        )
        # A garment that covers too little of the trunk is not worn but a fragment (a board across a bent body, a
        # torn vest while the arms swing, a hoodie that lags a turn): the source frame instead. With hysteresis, so a
        # fit near the line does not switch the garment on and off from frame to frame.
        if fit is not None and self.category != "lower":
            if self.fitting != (fit >= FITS[self.fitting]):
                self.fitting = not self.fitting
            if not self.fitting:
                self.unsure.append(frame.index)
                self.carried = None
                return source.copy()
        band = max(1, int(round(CARRY_BAND * mask.shape[0])))
        layer = carry_over(layer, self.carried, self.state.motion.flow, ceiling, (x0, y0), band)
        self.carried = layer, (x0, y0)
        out = source.copy()
        out[box] = _composite(source[box], layer)
        return out

    def _dress(
        self,
        source: np.ndarray,
        mask: np.ndarray,
        probability: np.ndarray,
        keep: np.ndarray,
        inside: np.ndarray,
        head: np.ndarray,
        body: np.ndarray,
        maps: dict[str, np.ndarray | None],
        fields: dict[str, np.ndarray | None],
        taper: Taper | None,
        origin: tuple[int, int],
        back: bool,
        lighting: float,
        crossing: frozenset[str],
        lifts: np.ndarray,
        crop_height: int,
    ) -> tuple[np.ndarray, np.ndarray, float | None]:
        """The garment drawn in one box of the crop (premultiplied RGBA, everything in box pixels), where a garment
        may be drawn at all (0..1), and the share of the trunk's core the garment covers (`_fit_share`)."""
        height, width = mask.shape
        soft = EDGE_SOFTNESS * crop_height
        person = probability >= PERSON
        trunk = next((maps[part.name] for part in self.parts if not part.limb), None)  # every trunk part's map
        trunk_cover = np.zeros((height, width, 4), np.float32)  # premultiplied RGBA, front on top
        limb_cover = np.zeros((height, width, 4), np.float32)
        root_cover = np.zeros((height, width, 4), np.float32)
        far_cover = np.zeros((height, width, 4), np.float32)  # the far arm's sleeve on a side view
        limbs: list[np.ndarray] = []  # each limb part as warped, before any cut (`fragments`)
        # The garment's alpha with its trunk widened by the narrower side's ratio (`outline.Taper.narrower`), cut and
        # closed as the drawn garment is: what the fit check judges, so a fragment lying off-centre is not stretched
        # into a fit.
        judged = np.zeros((height, width), np.float32)
        # Seen from the side, the far arm is behind the trunk: its sleeve goes under the torso, over the roots, and
        # shows only past the torso's outline. On top, it lay across the tee's front as a dark block (T1 frames 0-11,
        # T2's lettering, C2's bodice as she turns).
        side_view = seen_from_side(body)
        near_side = near_arm(body) if side_view else None
        far = ("l" if near_side == "r" else "r") if side_view else None
        for part, layer, root in zip(self.parts, self.back_layers if back else self.layers, self.roots[back]):
            matrix = maps[part.name]
            if matrix is None:
                continue
            field = fields[part.name]
            if root is not None and trunk is not None:
                for t in ROOT_STEPS:
                    _over(root_cover, warp_part(root, blend(trunk, matrix, t), field, origin, (width, height)))
            drawn = warp_part(layer, matrix, field, origin, (width, height), None if part.limb else taper)
            if part.limb:
                limbs.append(drawn[..., 3] >= 0.5)
            if part.limb and far is not None and part.name.startswith(f"{far}_"):
                _over(far_cover, drawn)
                continue
            _over(limb_cover if part.limb else trunk_cover, drawn)
            if not part.limb:
                narrow = drawn[..., 3]
                if taper is not None:
                    narrow = warp_part(layer[..., 3], matrix, field, origin, (width, height), taper.narrower())
                judged += narrow * (1 - judged)
        # The person's own arms in front: a forearm crossing the trunk stays in front of the torso's garment (behind
        # its own sleeve); a lower garment's hips are behind both arms.
        skin_likely = bodies.skin_likelihood(source)  # not `hair.skin`, the skin box `_kept` reads
        front = bodies.arms_in_front(body, (height, width), crossing, all_arms=self.category == "lower")
        if side_view:
            # Seen from the side, the near forearm lies between the camera and the trunk wherever it crosses it, yet
            # the trunk's quadrilateral is then a thin strip its middle and wrist are seldom inside: the new tee was
            # painted over a walker's bare forearm across her side (gallery C4, a case only checked, frames 31-46).
            # Its bare skin stays in front; the skin only: the whole capsule kept a stripe of the old garment
            # through the new one where the near arm's keypoints lay behind the body (T3 frame 4, C2 frame 89).
            near = bodies.arms_in_front(body, (height, width), frozenset({near_side}))
            # Opened by the soft edge's reach (two sigmas): specks of skin-coloured cloth in the capsule go (gallery
            # C8 frame 1, dark dots in the new shirt); grown by it inside the capsule: the skin keeps its pixels.
            reach = 2 * int(np.ceil(2 * soft)) + 1
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))
            bare = cv2.morphologyEx(near * (skin_likely >= 0.5).astype(np.uint8), cv2.MORPH_OPEN, kernel)
            front = np.maximum(front, near * cv2.dilate(bare, kernel))
        arms = _soft(front, soft)
        # The collar, not the neck and chin; the shoulders as high as the old garment reaches.
        trunk_cut = (1 - arms) * bodies.below_neck(body, (height, width), lifts)
        judged *= trunk_cut
        # The roots lie under the torso: its clean edge stays on top, and they show only in the wedge. They are not
        # judged: counted, they passed off a fragment as a fit (T6 frames 88-90, a black slab over her midriff).
        garment = _hardened(root_cover)
        _over(garment, far_cover)
        _over(garment, trunk_cover)
        garment *= trunk_cut[..., None]
        if self.category == "lower":
            limb_cover *= 1 - arms[..., None]
        _over(garment, limb_cover)
        _close_cracks(garment, crop_height, arms)
        # The far sleeve is judged as the limbs are, where it is drawn: where the torso does not cover the core, it
        # does (ViViD upper1's first frame, a long-sleeved gown seen from the side: without it, not drawn at all).
        for alpha in (limb_cover[..., 3], far_cover[..., 3] * trunk_cut):
            judged += alpha * (1 - judged)
        judged += _cracks(judged, crop_height, arms)
        # Only on this person and inside the mask: the segmented outline grown by `OUTLINE_MARGIN`, softened.
        grow = 2 * int(round(OUTLINE_MARGIN * crop_height)) + 1
        outline = cv2.dilate(person.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
        # Where the segmentation loses this person, the pose's envelope too. Decided on the share's running mean, not
        # frame by frame: switching per frame flickered the sleeves' cut on T1 (warping error 30x -> 56x).
        share = _seen_share(person, body)
        self.segmented = share if self.segmented is None else self.segmented + SEGMENTED_RATE * (share - self.segmented)
        if self.enveloped != (self.segmented < SEGMENTED[self.enveloped]):
            self.enveloped = not self.enveloped
        if self.enveloped:
            outline |= bodies.envelope(body, (height, width), legs=self.category != "upper")
            room = np.zeros((height, width), bool)  # the segmentation lost the person: its outside is no room sample
        else:  # nor on the room the segmentation takes in, cut with an edge of its own (`ROOM_SOFTNESS`)
            room = room_seen(source, probability, person, body, inside, crop_height)
        on_person = _soft(outline, soft) * _soft(~room, ROOM_SOFTNESS * crop_height) * (mask & ~keep)
        garment *= on_person[..., None]
        free = mask & ~keep & ~room & (arms < 0.5)  # where the garment may be drawn
        ceiling = on_person * (1 - arms)  # where a garment may be drawn at all: the carried one too (`carry_over`)
        if back:  # long hair over the back stays in front of the garment
            hair = bodies.back_hair(source, body)
            in_front = _soft(hair, soft)
            garment *= 1 - in_front[..., None]
            ceiling *= 1 - in_front
            free &= hair == 0
        # The garment's corners by the head rounded away, their new edge softened as the outline's (it is cut hard
        # otherwise, and paste-back scales the crop up to stairs); the carried garment may not refill them. Not
        # the sleeves': a thin sleeve on an arm raised beside the head was cut through there, its cuff left floating
        # (T6 frame 14).
        corners = head_corners(garment[..., 3] >= SEEN, head, crop_height) * (limb_cover[..., 3] < 0.5)
        if side_view and self.category == "upper":  # no tail of a top beside the near forearm
            beside = bodies.near_forearm_zone(body, (height, width))
            tail = slivers(garment[..., 3] >= SEEN, beside, crop_height) * (limb_cover[..., 3] < 0.5)
            corners = np.maximum(corners, tail)
        rounded = (1 - corners) * (1 - _soft(corners, soft))
        garment *= rounded[..., None]
        ceiling *= rounded
        # A scrap of a sleeve, apart from the trunk's garment, is no garment worn (`fragments`): removed with its
        # soft edge, and the carried garment may not refill it.
        if trunk is not None:
            loose = fragments(garment[..., 3] >= SEEN, trunk_cover[..., 3] * trunk_cut >= 0.5, limbs)
            garment *= 1 - loose[..., None]
            ceiling *= 1 - loose
        # A hole the warp leaves inside the drawn garment (the photo's silhouette has none: `matte`) shows the old
        # garment through the new one (T5 frame 112, a back view: a white disc of the old tee under her hair's ends
        # in the hoodie's back): filled with the colour of the garment around it, where a garment may be drawn and
        # the segmentation itself finds the person (not the pose's envelope, which reaches over the room).
        fill_holes(garment, (ceiling >= 0.5) & person)
        fit = _fit_share(judged * on_person, body, free)  # counted only where `free`: the hair needs no cut

        # The source's folds and light, measured on the cloth under the new garment (not on skin).
        low = bodies.luminance(source, crop_height)
        cloth = (garment[..., 3] > 0.5) & person & (skin_likely < 0.5)
        shade = bodies.shading(low, cloth, _soft(cloth, BODY_FADE * crop_height), crop_height, lighting)
        garment[..., :3] *= shade[..., None]
        return garment, ceiling, fit


def carry_over(
    layer: np.ndarray,
    carried: tuple[np.ndarray, tuple[int, int]] | None,
    flow: np.ndarray | None,
    ceiling: np.ndarray,
    origin: tuple[int, int],
    band: int,
) -> np.ndarray:
    """This frame's drawn garment `layer` (premultiplied RGBA of a box of the crop at `origin`), within `band`
    pixels of its outline averaged (`CARRY`) with the last frame's, `carried` (premultiplied RGBA of its own box,
    and that box's origin; nothing was drawn outside it), moved along the source's `flow` (frame t-1 -> t on t-1's
    grid, `motion.CropMotion.flow`, read at t's pixels: a first-order inverse) and kept under `ceiling` (0..1, the
    box: where this frame may draw a garment at all, so the carried garment never reaches the head, the hands, an
    arm in front or the room). Unchanged without a last frame or a flow."""
    if carried is None or flow is None:
        return layer
    (last, (last_x0, last_y0)), (x0, y0), (height, width) = carried, origin, layer.shape[:2]
    # Where each pixel of this box was, in the last box's pixels (float32: remap's map type, whatever the origins').
    ys, xs = np.mgrid[y0 - last_y0 : y0 - last_y0 + height, x0 - last_x0 : x0 - last_x0 + width].astype(np.float32)
    moved = flow[y0 : y0 + height, x0 : x0 + width]
    previous = cv2.remap(last, xs - moved[..., 0], ys - moved[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    drawn = (layer[..., 3] >= 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    weight = CARRY * (cv2.dilate(drawn, kernel) - cv2.erode(drawn, kernel)).astype(np.float32)[..., None]
    return (1 - weight) * layer + weight * previous * ceiling[..., None]


def _composite(source: np.ndarray, garment: np.ndarray) -> np.ndarray:
    """`source` with the premultiplied RGBA `garment` over it; pixels whose alpha is below `SEEN` stay bit for bit."""
    alpha = garment[..., 3:]
    result = source * (1 - alpha) + garment[..., :3]
    drawn = alpha[..., 0] >= SEEN
    out = source.copy()
    out[drawn] = np.clip(result[drawn] + 0.5, 0, 255).astype(np.uint8)
    return out


def _kept(
    pose: FramePose, source: np.ndarray, person: np.ndarray, mask: np.ndarray, interior: Box | None
) -> tuple[np.ndarray, np.ndarray]:
    """bool (H, W) twice: what is never drawn over, and of it the head with the face box (`head_corners`' cue).
    What is never drawn over, whatever the mask says (a user's mask may cover it): what the masks
    keep (`preprocess.masks.keep_region`: the head, the feet, and of the hands' regions, guesses of where the hands
    are, all but the garment around the hand inside the mask, `hands.garment_by_hands`, so a hand on the hip leaves
    no hand-shaped patch of the old garment), the skin that continues the hands past their regions (`hands.hand_skin`:
    their points lag a moving hand) and the face box with the hair beside it (`body.face_box`). Grown by 3
    crop pixels (`KEEP_KERNEL`): paste-back scales the crop up, and a changed crop pixel bleeds into its neighbours
    at full size (the collar reached the face box's last row on ViViD upper1). `interior`: where the pose's head
    points are located (`CropFrame.interior`), so a head above the frame is placed as the masks place it."""
    shape = mask.shape
    head, hands = head_region(pose, *shape, interior), hand_regions(pose, *shape)
    by_face = face_skin(source, pose)
    is_skin = by_face or skin
    colour = garment_near_hands(source, pose, person, mask, hands, head, is_skin)
    hands &= ~garment_by_hands(source, pose, person, mask, hands, head, colour, is_skin)
    if by_face is not None:  # without the face's colour a white or cream garment passes for skin
        hands |= hand_skin(source, pose, person, hands, by_face, colour)
    box = bodies.face_box(pose.body, *shape, interior=interior)
    if box is not None:
        x0, y0, x1, y1 = box
        head[y0:y1, x0:x1] = True
    keep = head | feet_region(pose, *shape, MaskShape()) | hands
    return _grown(keep), _grown(head)


def _inside(shape: tuple[int, int], interior: Box | None) -> np.ndarray:
    """bool `shape`: the crop's pixels inside the frame (`CropFrame.interior`; None: all of them), not its padding."""
    inside = np.ones(shape, bool)
    if interior is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in interior)
        inside[:] = False
        inside[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    return inside


def _grown(region: np.ndarray) -> np.ndarray:
    """bool: `region` grown by `KEEP_KERNEL` (see `_kept`)."""
    return cv2.dilate(region.astype(np.uint8), KEEP_KERNEL) > 0


def _fit_share(alpha: np.ndarray, body: np.ndarray, free: np.ndarray) -> float | None:
    """The share of the trunk's core (the shoulder-hip quadrilateral shrunk by `FIT_CORE`) that the garment (alpha
    at least 0.5) covers, counted where it may be drawn (`free`: in the repaint mask, which leaves long hair out,
    and not the head, hands, forearms in front or hair over a back); None where the pose gives no core or less
    than `MIN_CORE` of it is free (nothing to judge by)."""
    core = bodies.trunk_polygon(body, FIT_CORE)
    if core is None:
        return None
    inside = np.zeros(alpha.shape, np.uint8)
    bodies.fill_polygon(inside, core)
    counted = (inside > 0) & free
    return float((alpha[counted] >= 0.5).mean()) if counted.sum() >= MIN_CORE else None


def _seen_share(person: np.ndarray, body: np.ndarray) -> float:
    """The share of the trunk's core that the segmentation `person` (bool) covers; 0 without a trunk."""
    core = bodies.trunk_polygon(body, 0.33)
    if core is None:
        return 0.0
    inside = np.zeros(person.shape, np.uint8)
    bodies.fill_polygon(inside, core)
    return float(person[inside > 0].mean()) if inside.any() else 0.0


def plain_layers(colour: np.ndarray, alpha: np.ndarray, alphas: list[np.ndarray]) -> list[np.ndarray]:
    """The parts' premultiplied RGBA layers in the garment's main colour (the median of its opaque pixels): what a
    back view shows, since the photo shows only the front, and a front print on a person's back is wrong."""
    solid = alpha > 0.99
    main = np.median(colour[solid], axis=0) if solid.any() else np.zeros(3, np.float32)
    return [np.dstack([main[None, None, :] * a[..., None], a]).astype(np.float32) for a in alphas]


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


def _close_cracks(cover: np.ndarray, crop_height: int, in_front: np.ndarray) -> None:
    """Fill the gaps between the garment's parts narrower than `CRACK` (a bent joint, a torso and a sleeve that do
    not quite meet) with the colour around them, in place: the alpha's morphological closing minus the alpha is
    the crack. Not where `in_front` (float 0..1: the person's own arms in front of the garment) is: a forearm cut
    out of the torso is a gap as narrow on a full-length figure (13.6 pixels on gallery C9, 14.6 on C3)."""
    alpha = cover[..., 3]
    crack = _cracks(alpha, crop_height, in_front)
    if crack.max() <= CRACK_SEEN:
        return
    sigma = _crack_size(crop_height) / 2
    colour = (
        cv2.GaussianBlur(cover[..., :3], (0, 0), sigma)
        / np.maximum(cv2.GaussianBlur(alpha, (0, 0), sigma), 1e-3)[..., None]
    )
    cover[..., :3] += colour * crack[..., None]
    cover[..., 3] += crack


def holes(drawn: np.ndarray) -> np.ndarray:
    """bool: the holes of `drawn` (bool, where the garment shows): its 4-connected pieces of undrawn pixels that do
    not reach the image's border, so the garment surrounds them."""
    count, labels = cv2.connectedComponents((~drawn).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inside = np.ones(count, bool)
    inside[border] = False
    inside[0] = False  # the label of `drawn` itself
    return inside[labels] & ~drawn


def fill_holes(cover: np.ndarray, allowed: np.ndarray) -> None:
    """Fill the holes of premultiplied `cover` (`holes` of where its alpha reaches one half) that lie on the person,
    in place: a hole of which at least `HOLE_ON_PERSON` is `allowed` (bool: where a garment may be drawn on the
    segmented person) is made opaque there, with its 2-pixel rim (the garment's soft inner edge: left half
    transparent, it drew a dotted line of the old garment round the filled hole, T5 frame 23), its colour inpainted
    from the garment around it (`cv2.inpaint`, Telea's method: a print's colours carried in, where their flat mean
    was a grey-green slab across C6's print). A hole mostly off the person is the room seen through (between an arm
    and the waist), and stays; filled where the segmentation reached into it, C5's disc of wall became a jagged
    blob (frame 14)."""
    alpha = cover[..., 3]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes(alpha >= 0.5).astype(np.uint8), connectivity=8)
    on_person = np.zeros(alpha.shape, bool)
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        piece = labels[y : y + h, x : x + w] == label
        if (piece & allowed[y : y + h, x : x + w]).sum() >= HOLE_ON_PERSON * area:
            on_person[y : y + h, x : x + w] |= piece
    if not on_person.any():
        return
    filled = (cv2.dilate(on_person.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2) > 0) & allowed
    # Inpainted in the filled pixels' box: every pixel there that is not garment is unknown, so no colour from
    # outside the garment (a hand kept in the hole) is carried in.
    ys, xs = np.nonzero(filled)
    margin = 2 * HOLE_INPAINT_RADIUS + 1
    box = (
        slice(max(0, ys.min() - margin), ys.max() + margin + 1),
        slice(max(0, xs.min() - margin), xs.max() + margin + 1),
    )
    known = alpha[box] >= 0.5
    colour = np.clip(cover[box][..., :3] / np.maximum(alpha[box], 1e-6)[..., None], 0, 255).astype(np.uint8)
    unknown = (~known | filled[box]).astype(np.uint8)
    inpainted = cv2.inpaint(colour, unknown, HOLE_INPAINT_RADIUS, cv2.INPAINT_TELEA).astype(np.float32)
    inside = filled[box]
    region = cover[box]
    gap = 1.0 - region[..., 3][inside]
    region[inside, :3] += inpainted[inside] * gap[:, None]
    region[inside, 3] = 1.0


def _cracks(alpha: np.ndarray, crop_height: int, in_front: np.ndarray) -> np.ndarray:
    """The alpha that fills the cracks of garment `alpha` (`_close_cracks`)."""
    size = _crack_size(crop_height)
    closed = cv2.morphologyEx(alpha, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    crack = np.clip(closed - alpha, 0.0, 1.0) * (1.0 - in_front)
    # Opaque where the closing makes the crack the garment's: the closing of the parts' soft edges is partial there,
    # and half-transparent the fill showed the old garment through it (a pale yellow disc of the old top under the
    # new white tee's armpit on gallery C9, frame 142).
    return np.where((closed > 0.5) & (crack > CRACK_SEEN), 1.0 - alpha, crack)


def _crack_size(crop_height: int) -> int:
    """The closing's diameter in pixels: `CRACK` of the crop's height, odd, at least 3."""
    return max(3, int(round(CRACK * crop_height)) | 1)


def head_corners(drawn: np.ndarray, head: np.ndarray, crop_height: int) -> np.ndarray:
    """float32 0/1: of `drawn` (bool, where the garment shows), what lies within `NECKLINE` crop heights of
    `head` (bool) and outside every disc of that radius that fits in `drawn`: the corners a morphological opening
    rounds off there. Only removed, never added, so no new pixel is drawn next to the head; away from it the
    garment keeps its corners (a hem, a cuff) and its thin parts (a sleeve beside a hand)."""
    disc = _disc(2 * max(1, int(round(NECKLINE * crop_height))) + 1)
    return _opened_off(drawn, cv2.dilate(head.astype(np.uint8), disc) > 0, disc)


def slivers(drawn: np.ndarray, zone: np.ndarray, crop_height: int) -> np.ndarray:
    """float32 0/1: of `drawn` (bool), inside `zone` (bool), what is thinner than `SLIVER` crop heights: what an
    opening by a disc that wide removes there."""
    return _opened_off(drawn, zone, _disc(max(3, int(round(SLIVER * crop_height)) | 1)))


def fragments(drawn: np.ndarray, anchor: np.ndarray, limbs: list[np.ndarray]) -> np.ndarray:
    """float32 0/1: the scraps of `drawn` (bool): its 8-connected pieces that hold no pixel of `anchor` (bool, the
    trunk's garment) and less than `SCRAP` of the limb part they lie on most (`limbs`, bool, each part as warped
    before the cuts; a piece on none is a scrap)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(drawn.astype(np.uint8), connectivity=8)
    anchored = np.zeros(count, bool)
    anchored[np.unique(labels[drawn & anchor])] = True
    scraps = np.zeros(count, bool)
    for label in np.nonzero(~anchored[1:])[0] + 1:
        x, y, w, h, area = stats[label]
        piece = labels[y : y + h, x : x + w] == label
        on = [(int((limb[y : y + h, x : x + w] & piece).sum()), limb) for limb in limbs]
        most, limb = max(on, key=lambda pair: pair[0], default=(0, None))
        scraps[label] = most == 0 or area < SCRAP * int(limb.sum())
    return scraps[labels].astype(np.float32)


def _disc(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _opened_off(drawn: np.ndarray, zone: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """float32 0/1: of `drawn` (bool), inside `zone` (bool), what a morphological opening by `disc` removes."""
    opened = cv2.morphologyEx(drawn.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
    return (drawn & ~opened & zone).astype(np.float32)


def _soft(region: np.ndarray, sigma: float) -> np.ndarray:
    """float32 0..1 alpha of a 0/1 region with its edge blurred by `sigma` pixels."""
    alpha = region.astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), max(sigma, 0.5)) if sigma > 0 else alpha


def _hardened(cover: np.ndarray) -> np.ndarray:
    """Premultiplied `cover` with its alpha ramped from 0 at `HARD[0]` to 1 at `HARD[1]`, its colour kept."""
    alpha = cover[..., 3:]
    hard = np.clip((alpha - HARD[0]) / (HARD[1] - HARD[0]), 0.0, 1.0)
    return cover * (hard / np.maximum(alpha, 1e-6))


def _over(cover: np.ndarray, layer: np.ndarray) -> None:
    """Premultiplied `layer` (H, W, 4) composited over `cover` in place."""
    cover *= 1 - layer[..., 3:]
    cover += layer
