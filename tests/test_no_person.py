"""Issue 24, item 1: a video without a person is an error (one `error:` line, exit 2, nothing written), whatever
the pose model makes of it: a box without keypoints on an empty wall, "people" found in a rendered skeleton, a
garment photo given as the person video (ffmpeg reads a photo as a one-frame video)."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from tests.test_bad_inputs import decodes, refused, runner  # noqa: F401  (decodes: a fixture)
from tryon_cli.cli.main import app
from tryon_cli.errors import InputError
from tryon_cli.io import write_video
from tryon_cli.preprocess import human_pose
from tryon_cli.preprocess.human_pose import Detection
from tryon_cli.preprocess.pose_maps import render_human_pose

REPO = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH, FRAMES = 96, 64, 6


def _body(x0: float = 20.0) -> np.ndarray:
    body = np.zeros((18, 3), np.float32)
    body[:, 0], body[:, 1], body[:, 2] = x0 + np.arange(18), 10 + 4 * np.arange(18), 0.9
    return body


class _Backend:
    """What the pose model returns on every frame: `body=None` is a box without keypoints (a wall's shadow)."""

    name = "yolo"

    def __init__(self, body: np.ndarray | None):
        self.body = np.zeros((18, 3), np.float32) if body is None else body

    def detect(self, frame):
        return [Detection(box=np.array([10, 5, 50, 90], np.float32), score=0.4, body=self.body.copy())]


@pytest.fixture()
def files(tmp_path, monkeypatch) -> dict:
    rng = np.random.default_rng(0)
    wall = (np.full((HEIGHT, WIDTH, 3), 190) + rng.normal(0, 6, (HEIGHT, WIDTH, 3))).clip(0, 255).astype(np.uint8)
    write_video(tmp_path / "wall.mp4", [wall] * FRAMES, 24)
    # A skeleton drawn as DWPose draws it (our own renderer of the model's pose maps), moving a little.
    skeleton = [render_human_pose(_body(20 + t), HEIGHT, WIDTH) for t in range(FRAMES)]
    write_video(tmp_path / "skeleton.mp4", skeleton, 24)
    shutil.copy(REPO / "examples" / "garment_upper_00057_00.jpg", tmp_path / "garment.jpg")  # a real product photo
    monkeypatch.setenv("DPIDM_CACHE", str(tmp_path / "cache"))
    return {"root": tmp_path}


COMMANDS = {
    "tryon": ["tryon", "{root}/{video}", "{root}/garment.jpg", "--model", "warp", "-o", "{root}/out/out.mp4"],
    "pose": ["pose", "{root}/{video}", "-o", "{root}/out"],
    "mask": ["mask", "{root}/{video}", "-o", "{root}/out"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "video, body, message",
    [
        ("wall.mp4", None, "no person found in .*wall.mp4 \\(frames 0-5\\)"),
        ("skeleton.mp4", _body(), "skeleton.mp4 looks like a rendered pose"),
    ],
)
def test_no_person_is_one_line_and_nothing_is_written(files, monkeypatch, command, video, body, message):
    import re

    monkeypatch.setattr(human_pose, "load_backend", lambda *args, **kwargs: _Backend(body))
    args = [a.replace("{video}", video).format(root=files["root"]) for a in COMMANDS[command]]
    result = runner.invoke(app, args)
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    # Found while posing, so after the pose bar: the last line, and the only one that speaks of an error.
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr
    assert errors[0].startswith("error: ") and re.search(message, errors[0]), errors[0]
    assert not (files["root"] / "out").exists() or list((files["root"] / "out").rglob("*")) == []


def test_a_person_seen_only_in_the_margin_is_not_in_the_frames_asked_for(files, monkeypatch):
    """Frames 0-5 hold the person; frames 3:6 are asked for with the person gone from frame 2 on (a person who
    walks out): the pose of the margin must not make frames 3-5 count as a person's."""

    class _Leaving(_Backend):
        def __init__(self):
            super().__init__(_body())
            self.calls = 0

        def detect(self, frame):
            self.calls += 1
            return super().detect(frame) if self.calls <= 1 else []

    monkeypatch.setattr(human_pose, "load_backend", lambda *args, **kwargs: _Leaving())
    with pytest.raises(InputError, match="no person found in .*wall.mp4 \\(frames 4-5\\)"):
        human_pose.video_poses(files["root"] / "wall.mp4", backend="yolo", frames=(4, 6))


def test_a_photo_as_the_person_video_is_refused_before_any_decode(files, decodes):  # noqa: F811
    assert "garment.jpg is a still image, not a video of a person" in refused(
        ["tryon", "{root}/garment.jpg", "{root}/garment.jpg", "--model", "warp", "-o", "{root}/out.mp4"], files
    )
    assert "garment.jpg is a still image" in refused(["mask", "{root}/garment.jpg", "-o", "{root}/out"], files)
    assert decodes.probed == [] and decodes.pixel_reads == 0


def test_video_and_garment_swapped_are_named_as_swapped(files, decodes):  # noqa: F811
    line = refused(["tryon", "{root}/garment.jpg", "{root}/wall.mp4", "--model", "warp", "-o", "{root}/o.mp4"], files)
    assert "look swapped" in line and "garment.jpg" in line and "wall.mp4" in line
    assert decodes.probed == [] and decodes.pixel_reads == 0


@pytest.mark.slow
def test_real_pose_renderings_are_told_from_real_people(shared_data):
    """The two DWPose renderings of the sample data are refused; the first frame of every video of a person in it
    passes (the thresholds' margins are in `human_pose`)."""
    renderings = sorted((shared_data / "animateanyone" / "pose_videos").glob("*.mp4"))
    people = sorted((shared_data / "wild" / "videos").glob("*.mp4")) + sorted(
        (shared_data / "vivid" / "videos").glob("*.mp4")
    )
    assert renderings and people

    def first_frame(path):  # straight from ffmpeg: the project's reader would first decode the whole clip to count
        frames = imageio_ffmpeg.read_frames(str(path))
        try:
            width, height = next(frames)["size"]
            return np.frombuffer(next(frames), np.uint8).reshape(height, width, 3)
        finally:
            frames.close()

    for path in renderings:
        with pytest.raises(InputError, match="looks like a rendered pose"):
            human_pose.check_not_pose_rendering(first_frame(path), path)
    for path in people:
        human_pose.check_not_pose_rendering(first_frame(path), path)
