"""The warp engine does not draw a garment that is not worn: a frame whose fitted garment covers too little of the
trunk (a fragment) is returned as the source, and the note names it. A synthetic scene where the truth is known,
the person segmentation given as that truth (the scene is drawn, not photographed: the learned model is not what is
tested here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_warp_do_no_harm import FRONT, body_of, room
from tests.test_warp_engine import EXAMPLES, HEIGHT, WIDTH, Quiet, garment_input
from tryon_cli.engines.base import CropFrame
from tryon_cli.engines.warp import WarpEngine, frame_state
from tryon_cli.engines.warp import engine as engine_module
from tryon_cli.preprocess.keypoints import FramePose


@pytest.fixture(scope="module")
def tee():
    """The shipped navy tee with the red 'Lee' print on its front."""
    return garment_input(EXAMPLES / "garment_upper_00057_00.jpg", "upper")


def person_of() -> np.ndarray:
    """The scene's person as `room` draws it (the head's disc, the old top) and the arms: float32 0/1."""
    person = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(person, (192, 95), 28, 1, -1)
    cv2.fillConvexPoly(person, np.array([(150, 140), (234, 140), (220, 300), (164, 300)], np.int32), 1)
    for side in ("r", "l"):
        joints = [FRONT[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")]
        for a, b in zip(joints, joints[1:]):
            cv2.line(person, a, b, 1, 24)
    return person.astype(np.float32)


def test_a_garment_that_covers_too_little_of_the_trunk_leaves_the_frame_as_it_was(tee, monkeypatch):
    """The torso's fit squashed to a sixth of its width for frames 3-5 (as a bent or turning body makes the parts'
    affines put a narrow board across the trunk): those frames are the source, bit for bit, and one note names
    them; before and after, the tee is drawn."""
    notes = []

    class Noting(Quiet):
        def note(self, message):
            notes.append(message)

    source, person = room(), person_of()
    monkeypatch.setattr(engine_module, "PersonSegmentation", lambda: lambda image: person)
    frame_index = {"t": 0}
    fit = frame_state.trunk_transform

    def squashed(*args):
        matrix = fit(*args)
        if matrix is None or not 3 <= frame_index["t"] <= 5:
            return matrix
        centre = np.array([FRONT["neck"][0], 0.0])
        out = matrix.copy()
        out[0] = matrix[0] / 6  # x' = centre + (x' - centre) / 6
        out[0, 2] += centre[0] * (1 - 1 / 6)
        return out

    monkeypatch.setattr(frame_state, "trunk_transform", squashed)

    class Clip:
        num_frames, height, width, fps = 16, HEIGHT, WIDTH, 24.0

        def frames(self):
            mask = np.ones((HEIGHT, WIDTH), bool)
            for t in range(self.num_frames):
                frame_index["t"] = t
                yield CropFrame(t, source, mask, source, FramePose(body_of(FRONT)))

    outputs = list(WarpEngine().generate(Clip(), tee, Noting()))
    for t in (2, 13, 15):
        assert (outputs[t] != source).any(axis=2).sum() > 5000, t
    # The squashed fit reaches the drawn garment over a frame or two (the maps follow the source's flow and are pulled
    # toward the fit), and the garment comes back only from a fit of 0.8, so the run of frames left may start at 4
    # and end a few frames after 5.
    left = [t for t in range(16) if (outputs[t] == source).all()]
    assert left and left[0] in (3, 4) and left == list(range(left[0], left[-1] + 1)) and left[-1] <= 8, left
    assert len(notes) == 1 and f"frames {left[0]}-{left[-1]}" in notes[0], notes
