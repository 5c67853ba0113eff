"""Human pose: keypoint layouts, tracking (main subject, gaps, One-Euro), and the DWPose path on ONNX files that
the test exports itself with DWPose's real input and output shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.preprocess import tracking
from tryon_cli.preprocess.human_pose import (
    DWPoseBackend,
    estimate_video_poses,
    load_backend,
    model_device,
    track_detections,
)
from tryon_cli.preprocess.keypoints import BODY_INDEX, Detection, PoseSequence, coco17_to_openpose18
from tryon_cli.preprocess.openpose_json import frame_to_openpose


# ----------------------------------------------------------------------------------------------- layouts
def test_coco17_to_openpose18_maps_sides_and_builds_the_neck():
    coco = np.zeros((17, 3), np.float32)
    coco[:, 2] = 0.9
    coco[:, 0] = np.arange(17) * 10  # x encodes the COCO index
    coco[5, :2] = (100, 50)  # left shoulder
    coco[6, :2] = (60, 54)  # right shoulder
    body = coco17_to_openpose18(coco)
    assert body.shape == (18, 3)
    assert body[BODY_INDEX["r_shoulder"], 0] == 60 and body[BODY_INDEX["l_shoulder"], 0] == 100
    np.testing.assert_allclose(body[BODY_INDEX["neck"]], [80, 52, 0.9])
    for name, coco_index in (("r_wrist", 10), ("l_knee", 13), ("r_ear", 4), ("l_eye", 1), ("nose", 0)):
        assert body[BODY_INDEX[name], 0] == coco_index * 10, name
    coco[6, 2] = 0  # a missing shoulder: no neck
    assert coco17_to_openpose18(coco)[BODY_INDEX["neck"], 2] == 0


def test_pose_sequence_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    poses = PoseSequence(
        body=rng.random((4, 18, 3), dtype=np.float32),
        height=32,
        width=24,
        hands=rng.random((4, 2, 21, 3), dtype=np.float32),
        face=rng.random((4, 68, 3), dtype=np.float32),
        backend="dwpose",
        fps=24.0,
        notes=["a note"],
        wholebody=rng.random((4, 133, 3), dtype=np.float32),
    )
    poses.save(tmp_path / "p.npz")
    back = PoseSequence.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(back.body, poses.body)
    np.testing.assert_array_equal(back.hands, poses.hands)
    np.testing.assert_array_equal(back.face, poses.face)
    np.testing.assert_array_equal(back.wholebody, poses.wholebody)
    assert (back.height, back.width, back.backend, back.fps, back.notes) == (32, 24, "dwpose", 24.0, ["a note"])


# ----------------------------------------------------------------------------------------------- tracking
def _box(x, y, size):
    return np.array([x, y, x + size, y + size], np.float32)


def test_main_track_prefers_the_persistent_subject_over_a_briefly_larger_person():
    frames = []
    for t in range(20):
        people = [tracking.Candidate(_box(100 + t, 100, 100), 0.9)]  # the subject, walking slowly
        if 8 <= t < 11:
            people.insert(0, tracking.Candidate(_box(400, 50, 300), 0.95))  # a big passer-by for 3 frames
        frames.append(people)
    frames[5] = []  # one missed detection must not split the subject's track
    chosen, n_tracks = tracking.main_track(frames)
    assert n_tracks == 2
    for t, index in enumerate(chosen):
        if t == 5:
            assert index is None
        else:
            assert frames[t][index].box[0] == 100 + t


def test_interpolate_gaps_fills_short_gaps_linearly_and_leaves_long_ones():
    points = np.zeros((12, 1, 3), np.float32)
    points[0] = (0, 0, 1.0)
    points[3] = (30, 60, 0.5)  # gap of 2 frames: filled
    points[11] = (100, 100, 1.0)  # gap of 7 frames: longer than max_gap 4, left missing
    out = tracking.interpolate_gaps(points, max_gap=4)
    np.testing.assert_allclose(out[1, 0], [10, 20, 0.5])
    np.testing.assert_allclose(out[2, 0], [20, 40, 0.5])
    assert (out[4:11, 0, 2] == 0).all()
    np.testing.assert_array_equal(out[[0, 3, 11]], points[[0, 3, 11]])


def test_one_euro_removes_jitter_but_follows_fast_motion_without_lag():
    rng = np.random.default_rng(0)
    fps, height, frames = 25.0, 800.0, 60
    still = np.zeros((frames, 1, 3), np.float32)
    still[:, 0, :2] = 400 + rng.normal(0, 3, (frames, 2))
    still[:, 0, 2] = 1
    smoothed = tracking.one_euro(still, fps=fps, scale=height)
    assert smoothed[10:, 0, :2].std() < 0.5 * still[10:, 0, :2].std()

    fast = np.zeros((frames, 1, 3), np.float32)
    fast[:, 0, 0] = np.arange(frames) * 20.0  # 500 px/s: an arm swinging
    fast[:, 0, 1] = 300
    fast[:, 0, 2] = 1
    followed = tracking.one_euro(fast, fps=fps, scale=height)
    lag = np.abs(followed[10:, 0, 0] - fast[10:, 0, 0]).max()
    # A plain low-pass with the still-point smoothing (cutoff 1 Hz) would trail by ~60 px here.
    assert lag < 8.0
    assert (followed[..., 2] == fast[..., 2]).all()


def test_one_euro_restarts_after_a_missing_frame():
    points = np.zeros((6, 1, 3), np.float32)
    points[:3, 0] = (10, 10, 1)
    points[4:, 0] = (500, 500, 1)
    out = tracking.one_euro(points, fps=25, scale=800)
    np.testing.assert_allclose(out[4, 0], [500, 500, 1])  # no smoothing across the gap
    assert out[3, 0, 2] == 0


def _detection(x: float, score: float = 0.9) -> Detection:
    body = np.zeros((18, 3), np.float32)
    body[:, 0], body[:, 1], body[:, 2] = x + np.arange(18), 100 + 10 * np.arange(18), 0.9
    return Detection(box=_box(x, 100, 200), score=score, body=body)


def test_track_detections_fills_a_gap_names_empty_frames_and_notes_crowds():
    detections = [[_detection(100)], [], [_detection(104)], [_detection(106), _detection(600)]]
    detections += [[] for _ in range(20)]
    poses = track_detections(detections, height=480, width=640, fps=25, backend="test", source="clip.mp4", smooth=False)
    assert poses.found_frames()[:4].all()
    np.testing.assert_allclose(poses.body[1, 0, 0], 102)  # interpolated
    assert poses.body[3, 0, 0] == 106  # the main subject, not the new person
    assert any("several people" in note for note in poses.notes)
    assert any("frame(s) 4-23" in note for note in poses.notes)


def _turning_body(yaw: float, x: float = 320.0) -> np.ndarray:
    """An OpenPose-18 body at `yaw` (0: facing the camera, the right side on the image's left; pi: from the back):
    each paired joint at its half-width times cos(yaw) from the centre line."""
    body = np.zeros((18, 3), np.float32)
    half_widths = {"shoulder": 45, "elbow": 55, "wrist": 60, "hip": 30, "knee": 28, "ankle": 26, "eye": 8, "ear": 14}
    heights = {"shoulder": 120, "elbow": 190, "wrist": 250, "hip": 260, "knee": 360, "ankle": 450, "eye": 60, "ear": 65}
    for joint, half in half_widths.items():
        body[BODY_INDEX[f"r_{joint}"]] = (x - half * np.cos(yaw), heights[joint], 0.9)
        body[BODY_INDEX[f"l_{joint}"]] = (x + half * np.cos(yaw), heights[joint], 0.9)
    body[BODY_INDEX["nose"]], body[BODY_INDEX["neck"]] = (x, 55, 0.9), (x, 118, 0.9)
    return body


def _tracked(bodies: list[np.ndarray], hands: list[np.ndarray]) -> PoseSequence:
    detections = [
        [
            Detection(
                box=_box(200, 40, 460),
                score=0.9,
                body=b,
                hands=h,
                face=np.zeros((68, 3), np.float32),
                wholebody=np.zeros((133, 3), np.float32),
            )
        ]
        for b, h in zip(bodies, hands)
    ]
    return track_detections(detections, height=480, width=640, fps=25, backend="test", smooth=False)


def test_left_and_right_swapped_by_the_detector_are_swapped_back():
    """Seen from the back, walking slowly: the detector swaps the sides in frames 10-14 and 20 and puts both
    shoulders in the middle in frame 17; tracked, every other frame has the sides where frame 0 has them, and the
    hands follow their body."""
    truth = [_turning_body(np.pi, 300 + 2 * t) for t in range(30)]
    hands = [np.stack([np.full((21, 3), 1.0, np.float32), np.full((21, 3), 2.0, np.float32)]) for _ in truth]
    seen = [b.copy() for b in truth]
    seen_hands = [h.copy() for h in hands]
    for t in (10, 11, 12, 13, 14, 20):
        seen[t] = seen[t][tracking.MIRRORED]
        seen_hands[t] = seen_hands[t][::-1]
    for joint in ("r_shoulder", "l_shoulder"):
        seen[17][BODY_INDEX[joint], 0] = seen[17][BODY_INDEX["neck"], 0]
    poses = _tracked(seen, seen_hands)
    for t in range(30):
        if t != 17:
            np.testing.assert_allclose(poses.body[t], truth[t], err_msg=f"frame {t}")
            np.testing.assert_allclose(poses.hands[t], hands[t], err_msg=f"frame {t}")


def test_a_real_turn_keeps_the_detectors_sides():
    """Turning from the front to the back over a second, through a side view, labelled anatomically: nothing is
    swapped (a back view keeps the sides that tell it from a front view)."""
    truth = [_turning_body(np.pi * t / 24) for t in range(40)]
    hands = [np.zeros((2, 21, 3), np.float32) for _ in truth]
    poses = _tracked(truth, hands)
    np.testing.assert_allclose(poses.body, np.stack(truth))


def test_no_person_anywhere_is_one_clear_error():
    with pytest.raises(InputError, match="no person found in clip.mp4 \\(frames 0-2\\)"):
        track_detections([[], [], []], height=10, width=10, fps=25, source="clip.mp4")


def test_unknown_or_missing_backends_are_clear_errors(weights_root):
    with pytest.raises(InputError, match="unknown pose backend"):
        load_backend("openpose")
    with pytest.raises(MissingWeightsError, match="dwpose/yolox_l.onnx"):
        load_backend("dwpose", weights=weights_root)


# ----------------------------------------------------------------------------------------------- DWPose
class _TinyYolox(torch.nn.Module):
    """YOLOX's ONNX interface: (1, 3, 640, 640) -> (1, 8400, 85) = per anchor (dx, dy, log w, log h, objectness,
    80 class scores), objectness and classes already sigmoid'ed, anchors of strides 8, 16, 32 in that order.

    A bright square is its one "person": stride-32 anchors on it are confident, and every anchor regresses the
    same box (the square's centroid and size), so non-maximum suppression keeps one.
    """

    def forward(self, x):
        outputs = []
        # Brightness above mid-grey, so YOLOX's grey (114) padding of the letterboxed frame is not a person.
        coarse = torch.relu(torch.nn.functional.avg_pool2d(x.mean(1, keepdim=True), 32)[0, 0] / 255.0 - 0.5) * 2
        rows, cols = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
        mass = coarse.sum() + 1e-6
        centre_x, centre_y = (coarse * cols).sum() / mass + 0.5, (coarse * rows).sum() / mass + 0.5
        for stride in (8, 16, 32):
            size = 640 // stride
            rows, cols = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
            scale = 32 / stride  # the centroid in this level's grid units
            dx = (centre_x * scale - cols).reshape(1, -1, 1)
            dy = (centre_y * scale - rows).reshape(1, -1, 1)
            log_side = torch.log(mass.sqrt() * scale).expand_as(dx)
            if stride == 32:
                logit = (coarse.reshape(1, -1, 1) - 0.3) * 20
            else:
                logit = torch.full_like(dx, -20.0)
            others = torch.full((1, size * size, 79), -20.0)
            outputs.append(
                torch.cat(
                    [dx, dy, log_side, log_side, torch.sigmoid(logit), torch.sigmoid(logit), torch.sigmoid(others)], 2
                )
            )
        return torch.cat(outputs, 1)


class _TinySimcc(torch.nn.Module):
    """DWPose's ONNX interface: (1, 3, 384, 288) -> simcc_x (1, 133, 576), simcc_y (1, 133, 768) (split ratio 2)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.x = torch.nn.Linear(3, 133 * 576)
        self.y = torch.nn.Linear(3, 133 * 768)

    def forward(self, image):
        features = image.mean(dim=(2, 3))
        return self.x(features).reshape(1, 133, 576), self.y(features).reshape(1, 133, 768)


@pytest.fixture()
def dwpose_weights(weights_root):
    folder = weights_root / "dwpose"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _TinyYolox(),
            (torch.zeros(1, 3, 640, 640),),
            str(folder / "yolox_l.onnx"),
            input_names=["images"],
            output_names=["output"],
            dynamo=False,
        )
        torch.onnx.export(
            _TinySimcc(),
            (torch.zeros(1, 3, 384, 288),),
            str(folder / "dw-ll_ucoco_384.onnx"),
            input_names=["input"],
            output_names=["simcc_x", "simcc_y"],
            dynamo=False,
        )
    return weights_root


def test_dwpose_runs_end_to_end_on_exported_onnx_models(dwpose_weights):
    backend = load_backend("auto", weights=dwpose_weights)
    assert isinstance(backend, DWPoseBackend)
    frames = []
    for t in range(3):
        frame = np.zeros((240, 320, 3), np.uint8)
        frame[60:180, 100 + 4 * t : 220 + 4 * t] = 255  # the "person"
        frames.append(frame)
    poses = estimate_video_poses(frames, backend, fps=25.0)
    assert poses.backend == "dwpose" and len(poses) == 3
    assert poses.body.shape == (3, 18, 3) and poses.hands.shape == (3, 2, 21, 3) and poses.face.shape == (3, 68, 3)
    assert poses.wholebody.shape == (3, 133, 3)
    # The OpenPose-18 body is derived from the 133 points (COCO right shoulder = index 6), hands from 91-132.
    np.testing.assert_array_equal(poses.body[:, BODY_INDEX["r_shoulder"]], poses.wholebody[:, 6])
    np.testing.assert_array_equal(poses.hands[:, 1], poses.wholebody[:, 112:133])
    for t, frame_pose in enumerate(poses):
        # One box, found on the bright square; every keypoint lies in RTMPose's crop: the box padded by 1.25 and
        # widened to the model's 3:4 aspect (up to the smoothing's few pixels).
        box = backend.detect(frames[t])
        assert len(box) == 1
        centre = (box[0].box[:2] + box[0].box[2:]) / 2
        assert np.abs(centre - (160 + 4 * t, 120)).max() < 40
        present = frame_pose.body[frame_pose.body[:, 2] > 0, :2]
        width, height = (box[0].box[2:] - box[0].box[:2]) * 1.25
        width, height = max(width, height * 0.75), max(height, width / 0.75)
        assert len(present) > 0
        assert (np.abs(present - centre) <= np.array([width, height]) / 2 + 8).all()
    document = frame_to_openpose(poses[0])
    person = document["people"][0]
    assert len(person["pose_keypoints_2d"]) == 54
    assert len(person["face_keypoints_2d"]) == 70 * 3
    assert len(person["hand_left_keypoints_2d"]) == len(person["hand_right_keypoints_2d"]) == 21 * 3


# ----------------------------------------------------------------------------------------------- the pose cache
class _CountingBackend:
    """A backend whose person follows the frame's brightness, so detections depend on the frame's content; it
    records which frames it ran on. Keypoints carry float32 fractions that a lossy round trip would change."""

    name = "yolo"

    def __init__(self):
        self.seen: list[int] = []

    def detect(self, frame: np.ndarray) -> list[Detection]:
        level = float(frame.mean())
        self.seen.append(round(level / 4))  # frame t is filled with 4t (+-1 after the codec)
        body = np.zeros((18, 3), np.float32)
        body[:, 0] = 20 + level / 7 + np.arange(18) * np.float32(1 / 3)
        body[:, 1] = 40 + np.arange(18) * 2.1
        body[:, 2] = 0.73
        return [Detection(box=np.array([10, 10, 60, 90], np.float32) + np.float32(level / 9), score=0.8, body=body)]


def test_a_range_poses_its_margin_only_and_a_wider_one_adds_the_missing_frames(tmp_path, monkeypatch):
    from tryon_cli.io import write_video
    from tryon_cli.preprocess import human_pose

    video = tmp_path / "clip.mp4"
    write_video(video, [np.full((96, 64, 3), 4 * t, np.uint8) for t in range(50)], 24)  # frame t has level 4t
    monkeypatch.setenv("DPIDM_CACHE", str(tmp_path / "cache"))
    backend = _CountingBackend()
    monkeypatch.setattr(human_pose, "load_backend", lambda *a, **k: backend)

    first = human_pose.video_poses(video, backend="yolo", frames=(0, 8))
    assert len(first) == 8 and backend.seen == list(range(0, 8 + human_pose.MARGIN_FRAMES))
    backend.seen.clear()
    wider = human_pose.video_poses(video, backend="yolo", frames=(5, 30))
    assert len(wider) == 25 and backend.seen == list(range(20, 30 + human_pose.MARGIN_FRAMES))
    backend.seen.clear()
    warm = human_pose.video_poses(video, backend="yolo", frames=(5, 30))
    assert backend.seen == []  # all from the cache
    cold = human_pose.video_poses(video, backend="yolo", frames=(5, 30), use_cache=False)
    assert backend.seen == list(range(0, 30 + human_pose.MARGIN_FRAMES))  # 5 - 12 is clipped to frame 0
    # Bit-exact: the cache keeps the backend's float32 values, and tracking and smoothing rerun the same way.
    assert warm.body.tobytes() == cold.body.tobytes() == wider.body.tobytes()
    assert warm.fps == cold.fps and warm.notes == cold.notes
    with pytest.raises(InputError, match="frames 60:50 are not a range"):
        human_pose.video_poses(video, backend="yolo", frames=(60, None))


def test_the_pose_model_leaves_torch_and_opencv_thread_counts_as_they_were():
    """ultralytics sets torch's thread count when it predicts: left so, the diffusion that follows computed in
    another order, and a cold pose cache gave another video than a warm one."""
    import cv2

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(3)
    cv2.setNumThreads(2)
    try:
        frame = np.zeros((64, 64, 3), np.uint8)
        with pytest.raises(InputError, match="no person"):
            estimate_video_poses([frame], "yolo", fps=24)
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (3, 2)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_a_models_device_is_resolved_as_torch_sees_the_machine():
    """`model_device`: the CPU as it is, auto as CUDA where torch sees it, CUDA refused in one line without it."""
    assert model_device("cpu") == "cpu"
    assert model_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert model_device("cuda:0") == "cuda:0"
    else:
        with pytest.raises(InputError, match="no CUDA device"):
            model_device("cuda")
