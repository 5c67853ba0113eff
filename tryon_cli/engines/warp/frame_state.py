"""The warp engine's per-video state, stepped once per frame: every tracker in one place.

Each frame, dressed or not, `FrameState.step` moves every tracker on by exactly one frame: the optical flow
between this crop and the last (`motion.CropMotion`), the pose filler (`stabilize.PoseFiller`), the flow-carried
keypoints (`motion.KeypointTracker`), each garment part's flow-carried map (`motion.MotionTracker`), which
way the person faces (`Facing`), the scene's lighting (`lighting.SceneLighting`), the trunk's widening
(`outline.TrunkWidth`) and the shoulders' lift (`shoulders.ShoulderLift`). A frame the engine cannot
dress (no trunk, an empty mask) still steps them: its part maps are carried along the flow, so the next dressed
frame starts from where the garment would be now, not from where it was before the gap.

One coordinate frame: everything here is in crop pixels (x right, y down, the crop's top-left pixel centre at
(0, 0)); the renderer (`dress.py`) moves the maps into its working box once, at drawing time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp.body import crossing_forearms
from tryon_cli.engines.warp.fields import ResidualFields
from tryon_cli.engines.warp.lighting import SceneLighting
from tryon_cli.engines.warp.motion import CropMotion, KeypointTracker, MotionTracker
from tryon_cli.engines.warp.outline import Taper, TrunkWidth
from tryon_cli.engines.warp.shoulders import ShoulderLift
from tryon_cli.engines.warp.skeleton import Part, limb_transform, scale_of, trunk_transform
from tryon_cli.engines.warp.stabilize import PoseFiller, trunk_frame
from tryon_cli.preprocess.keypoints import BODY_INDEX, DRAW_THRESHOLD

J = BODY_INDEX
# Frames in a row that must agree before the facing changes (front <-> back): one frame of a detector that loses
# the face (a hand before it, motion blur) must not switch the print off and on. 4 frames: under 0.2 s at 24 fps;
# set, not tuned on any clip.
FACING_FRAMES = 4
# Frames in a row a forearm must cross in front of the trunk before it is kept in front of the garment: on the
# shipped example, as she turns from the side, the detector put the far arm inside the trunk for single frames
# (2 and 10), and each cut a forearm-shaped hole in the tee for one frame (warping error of the pair 147x and 86x
# the source's). Leaving takes effect at once (a forearm kept in front where it no longer is leaves a hole).
CROSSING_FRAMES = 2


@dataclass(frozen=True)
class Step:
    """One frame's state, in crop pixels: the body (filled, flow-carried keypoints), each part's map garment ->
    crop (None where neither fit nor flow gives one), the trunk's map, how the trunk's parts are widened to the
    body's outline (`outline.Taper`), whether the person shows their back, and the scene's lighting over the first
    frame's, and the sides whose forearm is in front of the trunk."""

    body: np.ndarray
    maps: dict[str, np.ndarray | None]
    fields: dict[str, np.ndarray | None]
    trunk: np.ndarray | None
    taper: Taper | None
    back: bool
    lighting: float
    crossing: frozenset[str]
    lifts: np.ndarray


class Facing:
    """Front or back, from the raw detections: a back view shows neither nose nor eyes while a shoulder is seen.
    A profile still shows one eye or the nose, and counts as the front. Changes only after `FACING_FRAMES`
    frames in a row agree."""

    def __init__(self) -> None:
        self.back = False
        self._run = 0

    def __call__(self, raw: np.ndarray) -> bool:
        seen = raw[:, 2] >= DRAW_THRESHOLD
        shoulders = seen[J["r_shoulder"]] or seen[J["l_shoulder"]]
        if shoulders:  # without a shoulder there is no person to face anywhere: the facing stays
            back = not (seen[J["nose"]] or seen[J["r_eye"]] or seen[J["l_eye"]])
            self._run = self._run + 1 if back != self.back else 0
            if self._run >= FACING_FRAMES:
                self.back, self._run = back, 0
        return self.back


class Crossing:
    """The sides whose forearm is kept in front of the trunk: a side joins after `CROSSING_FRAMES` frames in a row
    of `body.crossing_forearms` and leaves on the first frame without."""

    def __init__(self) -> None:
        self._runs = {"r": 0, "l": 0}

    def __call__(self, body: np.ndarray) -> frozenset[str]:
        now = crossing_forearms(body)
        self._runs = {side: run + 1 if side in now else 0 for side, run in self._runs.items()}
        return frozenset(side for side, run in self._runs.items() if run >= CROSSING_FRAMES)


class FrameState:
    """Per-video trackers of the warp engine; `step` once per frame, in order."""

    def __init__(
        self, parts: tuple[Part, ...], garment_body: np.ndarray, samples: dict[str, np.ndarray], width: TrunkWidth
    ) -> None:
        self.parts, self.garment_body, self.samples = parts, garment_body, samples
        self.width = width
        self.motion = CropMotion()
        self.fill_pose = PoseFiller()
        self.track_points = KeypointTracker(self.motion)
        self.maps = MotionTracker(self.motion)
        self.facing = Facing()
        self.crossing = Crossing()
        self.lighting = SceneLighting(self.motion)
        self.residuals = ResidualFields(self.motion)
        self.shoulders = ShoulderLift()

    def step(self, frame: CropFrame, person: np.ndarray) -> Step:
        """Every tracker moved on to `frame`; `person` (bool, crop pixels) is where its person segmentation
        finds the person."""
        self.motion.update(frame.source)
        raw = frame.pose.body
        back = self.facing(raw)
        lighting = self.lighting(frame.mask)
        body = self.track_points(self.fill_pose(raw))
        # The garment is fitted to the shoulders' tops where the old garment shows them (`shoulders.py`); the
        # renderer's cuts (collar, arms, envelope) keep the body as tracked.
        fit_body = self.shoulders(frame.source, body, person, frame.mask)
        fitted = trunk_transform(self.parts, self.garment_body, fit_body)
        trunk = self.maps("trunk", fitted, self.samples["trunk"])
        taper = self.width(fitted, body, person, frame.mask)
        maps: dict[str, np.ndarray | None] = {}
        fits = {"trunk": fitted}
        scale = None if trunk is None else scale_of(trunk)
        for part in self.parts:
            if part.limb:
                fits[part.name] = None if scale is None else limb_transform(part, self.garment_body, fit_body, scale)
                maps[part.name] = self.maps(part.name, fits[part.name], self.samples[part.name])
            else:
                maps[part.name] = trunk
        # Dressed only where this frame's own detections give a trunk: the filler's stand-in for a frame with no
        # point seen, and a map the flow carries through it, keep the next dressed frame in place, but are not drawn
        # (the person may have left the crop).
        trust = self.maps.trust
        trunk_field = self.residuals("trunk", trunk, fitted, trust.get("trunk", 0.0), self.samples["trunk"])
        fields = {
            p.name: self.residuals(p.name, maps[p.name], fits[p.name], trust.get(p.name, 0.0), self.samples[p.name])
            if p.limb
            else trunk_field
            for p in self.parts
        }
        seen = fitted is not None and trunk_frame(raw) is not None
        return Step(
            body,
            maps,
            fields,
            trunk if seen else None,
            taper,
            back,
            lighting,
            self.crossing(body),
            self.shoulders.now(),
        )
