"""A body seen from the side (`keypoints.seen_from_side`): the far arm is behind the trunk, and its sleeve is drawn
under the torso's garment (`dress.GarmentDresser`), not over it."""

from __future__ import annotations

import numpy as np

from tests.test_warp_engine import EXAMPLES, Clip, garment_input
from tryon_cli.engines.warp.dress import GarmentDresser
from tryon_cli.preprocess.keypoints import near_arm, seen_from_side
from tryon_cli.preprocess.person_segmentation import PersonSegmentation


def test_seen_from_the_side_the_far_sleeve_is_drawn_behind_the_torso():
    """The shipped example's frame 3 (seen from the side, her right arm the near one): the far sleeve, painted
    magenta, shows nowhere over the torso's garment (where the torso alone is drawn), and the near sleeve, painted
    green, is drawn. Drawn on top as before, the far sleeve lay across the tee's print as a dark block."""
    clip = Clip(EXAMPLES / "person.mp4", "upper", picks=[3])
    frame = next(iter(clip.frames()))
    body = frame.pose.body
    assert seen_from_side(body) and near_arm(body) == "r"
    garment = garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")
    segmentation = PersonSegmentation()

    def dressed(colours: dict[str, tuple[int, int, int] | None]) -> np.ndarray:
        dresser = GarmentDresser(garment, segmentation)
        for index, part in enumerate(dresser.parts):
            colour = colours.get(part.name[:2], "keep")
            if colour == "keep":
                continue
            layer = dresser.layers[index]
            if colour is None:
                layer[...] = 0
            else:
                layer[..., :3] = np.array(colour, np.float32) * layer[..., 3:]
        return dresser(frame)

    magenta, green = (255, 0, 255), (0, 255, 0)
    out = dressed({"l_": magenta, "r_": green}).astype(int)
    torso_only = dressed({"l_": None, "r_": None})
    torso = np.abs(torso_only.astype(int) - frame.source.astype(int)).max(axis=2) > 16
    r, g, b = out[..., 0], out[..., 1], out[..., 2]
    far = (r > 100) & (b > 100) & (g < 0.5 * np.minimum(r, b))
    near = (g > 100) & (r < 0.5 * g) & (b < 0.5 * g)
    assert near.sum() > 100
    assert (far & torso).sum() <= 0.002 * torso.sum()
