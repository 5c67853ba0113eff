"""The shipped person segmentation (MediaPipe's selfie model through ai-edge-litert): it finds the person of the
shipped example and not the wall, at the frame's own size, and loading it prints nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tryon_cli.io import read_frames
from tryon_cli.preprocess.person_segmentation import PersonSegmentation

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "person.mp4"


def test_the_example_person_is_found_and_the_wall_is_not():
    frame = next(iter(read_frames(EXAMPLE, 24, 25)))
    probability = PersonSegmentation()(frame)
    height, width = frame.shape[:2]
    assert probability.shape == (height, width) and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0
    # Frame 24: she faces the camera in the middle of the frame; the wall fills the outer fifths.
    torso = probability[int(0.2 * height) : int(0.5 * height), int(0.4 * width) : int(0.6 * width)]
    assert (torso > 0.5).mean() > 0.9
    walls = np.concatenate([probability[:, : width // 5], probability[:, -width // 5 :]], axis=1)
    assert (walls > 0.5).mean() < 0.05


def test_loading_the_model_prints_nothing():
    """The runtime's C++ logging writes an INFO line to the standard error's file descriptor when it first applies
    its CPU delegate in a process (so a fresh process here); a user's `dpidm tryon` shows nothing but its own
    lines."""
    load = "from tryon_cli.preprocess.person_segmentation import PersonSegmentation; PersonSegmentation()"
    done = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stderr == "" and done.stdout == ""
