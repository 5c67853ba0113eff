"""Garment landmarks: points on a garment photo named after the human keypoints they correspond to (paper 3.3).

One YOLOv8 pose model (ultralytics, weights key `garment-landmarks`) serves every category: three classes
(`upper`, `lower`, `dress`) over one 13-point layout (`LAYOUT`); each category reads its own subset (`SCHEMAS`;
upper = the paper's 9). `train_garment` trains it on a YOLO-pose dataset (format in docs/preprocessing.md).

Without that model, `silhouette_landmarks` estimates the points from the garment's outline on a product photo's
plain background, deterministically, and marks them `estimated`. Its rules (a flat-lay garment seen from the
front, so the garment's right side is on the image left):
- upper: shoulders at the top corners of the torso, hips at the hem corners pulled in towards the joints, the
  neck between the shoulders (OpenPose's neck is the shoulders' midpoint), each sleeve's far end the wrist (long
  sleeve) or the elbow (short sleeve; the wrist then continues the sleeve's line with a low confidence).
- lower: hips below the waistband, knees and ankles on the centre line of each leg.
- dress: the upper rules for the bodice, hips one torso length below the shoulders, knees below (or at the hem).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.preprocess.keypoints import GarmentLandmarks
from tryon_cli.preprocess.masks import CATEGORIES, check_category
from tryon_cli.weights import path_of

LAYOUT: tuple[str, ...] = (
    "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle",
)
"""The model's keypoint order (`kpt_shape: [13, 3]`)."""
FLIP_IDX: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11)
"""Where each keypoint goes when the image is mirrored (right and left swap); the dataset yaml's `flip_idx`."""
CLASS_NAMES = CATEGORIES
"""Class ids: 0 upper, 1 lower, 2 dress."""

SCHEMAS: dict[str, tuple[str, ...]] = {
    "upper": ("neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "l_hip"),
    "lower": ("r_hip", "l_hip", "r_knee", "l_knee", "r_ankle", "l_ankle"),
    "dress": ("neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
              "r_hip", "l_hip", "r_knee", "l_knee"),
}

ON_GARMENT = 0.6
"""Confidence of an estimated point that lies on the garment."""
EXTRAPOLATED = 0.35
"""Confidence of an estimated point beyond the garment (a short sleeve's wrist): drawn, but marked weak."""
# Human proportions in torso lengths (shoulder line to hips): shoulder-elbow and shoulder-wrist along the arm,
# and the sleeve length from which a sleeve counts as long (its cuff then is the wrist).
UPPER_ARM = 0.58
WHOLE_ARM = 1.15
LONG_SLEEVE = 0.85


# ---------------------------------------------------------------------------------------------- the model
def detect_garment_landmarks(
    image: np.ndarray, category: str, model_path: str | Path | None = None, device: str = "cpu"
) -> tuple[GarmentLandmarks, list[str]]:
    """Landmarks of a garment photo (RGB uint8) and one-line notes for the user.

    Uses the trained model at `model_path` (default: the `garment-landmarks` weights) when it exists, else the
    silhouette estimate. Notes say which was used and warn when the photo does not look like a product shot.
    """
    check_category(category)
    notes = product_shot_warnings(image)
    model_path = Path(model_path) if model_path is not None else path_of("garment-landmarks")
    if model_path.is_file():
        found = _model_landmarks(image, category, model_path, device)
        if found is not None:
            landmarks, score = found
            notes.append(f"landmarks from the garment model {model_path} (detection score {score:.2f})")
            if score < 0.25:
                notes.append("warning: the garment model is unsure of this photo; check the landmark drawing")
            return landmarks, notes
        notes.append(f"the garment model {model_path} found no garment; estimating from the silhouette")
    else:
        notes.append(f"no garment landmark model at {model_path}; landmarks estimated from the garment's silhouette")
    return silhouette_landmarks(image, category), notes


def _model_landmarks(
    image: np.ndarray, category: str, model_path: Path, device: str
) -> tuple[GarmentLandmarks, float] | None:
    """The model's landmarks for the best box (of the asked category when there is one) and that box's score."""
    from ultralytics import YOLO

    model = YOLO(str(model_path), task="pose")
    kpt_shape = tuple(model.model.yaml.get("kpt_shape", ())) if hasattr(model.model, "yaml") else ()
    if kpt_shape[:1] != (len(LAYOUT),):
        raise InputError(
            f"garment model {model_path} predicts {kpt_shape[:1] or 'no'} keypoints; dpidm's layout has "
            f"{len(LAYOUT)} (docs/preprocessing.md, train one with `dpidm pose train-garment`)"
        )
    train_args = (getattr(model, "ckpt", None) or {}).get("train_args", {})
    # conf=0: the best box is taken whatever its score (the user trained this model); the score is reported.
    result = model.predict(np.ascontiguousarray(image[..., ::-1]), imgsz=int(train_args.get("imgsz", 640)), conf=0.0,
                           device=device, verbose=False)[0]
    if result.keypoints is None or len(result.boxes) == 0:
        return None
    classes = result.boxes.cls.cpu().numpy().astype(int)
    scores = result.boxes.conf.cpu().numpy()
    wanted = CLASS_NAMES.index(category)
    # Prefer a box of the asked category; the user's category wins over the model's class guess.
    order = np.lexsort((-scores, classes != wanted))
    points = result.keypoints.data.cpu().numpy()[order[0]]
    if points.shape[1] == 2:
        points = np.concatenate([points, np.ones((len(points), 1), np.float32)], axis=1)
    names = SCHEMAS[category]
    chosen = np.array([points[LAYOUT.index(n)] for n in names], dtype=np.float32)
    chosen[:, 2] = np.clip(chosen[:, 2], 0, 1)
    chosen[chosen[:, 2] <= 0] = 0
    landmarks = GarmentLandmarks(category, names, chosen, estimated=False, height=image.shape[0], width=image.shape[1])
    return landmarks, float(scores[order[0]])


def load_dataset_yaml(data: str | Path) -> dict:
    """The dataset yaml, checked against dpidm's layout; InputError naming what is wrong."""
    data = Path(data)
    if not data.is_file():
        raise InputError(f"dataset yaml not found: {data}")
    try:
        spec = yaml.safe_load(data.read_text()) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{data} is not valid YAML: {str(err).splitlines()[0]}") from err
    kpt_shape = list(spec.get("kpt_shape", []))
    if kpt_shape[:1] != [len(LAYOUT)] or kpt_shape[1:] not in ([2], [3]):
        raise InputError(f"{data}: kpt_shape must be [{len(LAYOUT)}, 3] (dpidm's garment layout), got {kpt_shape or 'none'}")
    names = spec.get("names")
    names = list(names.values()) if isinstance(names, dict) else list(names or [])
    if names != list(CLASS_NAMES):
        raise InputError(f"{data}: names must be {list(CLASS_NAMES)} (class ids 0, 1, 2), got {names}")
    if list(spec.get("flip_idx", [])) != list(FLIP_IDX):
        raise InputError(f"{data}: flip_idx must be {list(FLIP_IDX)} (mirroring swaps right and left)")
    return spec


def train_garment(
    data: str | Path,
    output: str | Path | None = None,
    epochs: int = 100,
    imgsz: int = 640,
    base: str = "yolov8n-pose.yaml",
    device: str = "cpu",
    batch: int = 16,
    workers: int = 4,
    runs_dir: str | Path | None = None,
    plots: bool = True,
) -> Path:
    """Train the garment landmark model with ultralytics on a YOLO-pose dataset; returns the saved model path.

    `base` is an ultralytics model yaml (trained from scratch, no download) or a .pt to fine-tune. The best
    checkpoint is copied to `output` (default: the `garment-landmarks` weights path), where
    `detect_garment_landmarks` finds it. Ultralytics' run folder (curves, checkpoints) is kept in `runs_dir`.
    """
    from ultralytics import YOLO

    load_dataset_yaml(data)
    output = Path(output) if output is not None else path_of("garment-landmarks")
    runs_dir = Path(runs_dir) if runs_dir is not None else output.parent / "garment_runs"
    model = YOLO(base, task="pose")
    model.train(data=str(Path(data).resolve()), epochs=epochs, imgsz=imgsz, device=device, batch=batch,
                workers=workers, plots=plots, project=str(runs_dir.resolve()), name="train", exist_ok=True,
                verbose=False)
    weights_dir = Path(model.trainer.save_dir) / "weights"
    best = next((p for p in (weights_dir / "best.pt", weights_dir / "last.pt") if p.is_file()), None)
    if best is None:
        raise MissingWeightsError(f"ultralytics wrote no checkpoint under {weights_dir}")
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, output)
    return output


# ---------------------------------------------------------------------------------------------- the silhouette
def garment_silhouette(image: np.ndarray) -> np.ndarray:
    """The garment's mask (bool) on a plain background: pixels far from the border's colour, largest blob, filled."""
    border = np.concatenate([image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3),
                             image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)]).astype(np.float32)
    background = np.median(border, axis=0)
    spread = np.median(np.abs(border - background), axis=0).max()
    distance = np.abs(image.astype(np.float32) - background).max(axis=2)
    foreground = (distance > max(18.0, 4 * spread)).astype(np.uint8)
    size = max(3, int(round(min(image.shape[:2]) * 0.01)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, kernel)
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    if count <= 1:
        return np.zeros(image.shape[:2], bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    blob = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 1, cv2.FILLED)
    return filled.astype(bool)


def product_shot_warnings(image: np.ndarray) -> list[str]:
    """Warnings when the photo does not look like a product shot (one garment on a plain background)."""
    border = np.concatenate([image[:4].reshape(-1, 3), image[-4:].reshape(-1, 3),
                             image[:, :4].reshape(-1, 3), image[:, -4:].reshape(-1, 3)]).astype(np.float32)
    if np.median(np.abs(border - np.median(border, axis=0)), axis=0).max() > 12:
        return ["warning: the garment photo's background is not plain; landmarks and results may suffer "
                "(use a product photo of the garment alone on a plain background)"]
    share = garment_silhouette(image).mean()
    if not 0.05 <= share <= 0.95:
        return [f"warning: the garment covers {share:.0%} of the photo; expected a product photo of one garment"]
    return []


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the True runs of a boolean row."""
    padded = np.concatenate([[0], row.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def _run_at(mask: np.ndarray, y: float, x: float) -> tuple[int, int] | None:
    """The run of row `y` containing column `x`, else the run nearest to it."""
    runs = _runs(mask[int(np.clip(round(y), 0, mask.shape[0] - 1))])
    if not runs:
        return None
    return min(runs, key=lambda r: 0 if r[0] <= x < r[1] else min(abs(r[0] - x), abs(r[1] - 1 - x)))


def _torso_edges(mask: np.ndarray, rows: np.ndarray, centre: float) -> tuple[float, float]:
    """The torso's sides: median left and right ends, over `rows`, of the run that contains the centre."""
    spans = [run for run in (_run_at(mask, y, centre) for y in rows) if run is not None]
    if not spans:
        xs = np.nonzero(mask)[1]
        return float(xs.min()), float(xs.max())
    return float(np.median([r[0] for r in spans])), float(np.median([r[1] - 1 for r in spans]))


def _sleeve(mask: np.ndarray, shoulder: np.ndarray, edge: float, side: int, shoulder_y: float, hip_y: float):
    """(elbow, wrist) rows of (x, y, conf) for the sleeve beyond the torso side `edge` (`side` -1 = image left).

    The sleeve is the connected part of the garment outside the torso column that starts near the shoulder
    (a flared hem or skirt outside the column starts lower and is not a sleeve). No sleeve: both missing.
    """
    torso_height = hip_y - shoulder_y
    columns = np.arange(mask.shape[1])
    beyond = mask & ((columns - edge) * side > 0.03 * torso_height)[None, :]
    beyond[int(hip_y):] = False
    count, labels, stats, _ = cv2.connectedComponentsWithStats(beyond.astype(np.uint8), connectivity=8)
    sleeves = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] > 0.002 * mask.sum()
               and stats[k, cv2.CC_STAT_TOP] < shoulder_y + 0.25 * torso_height]
    if not sleeves:
        return np.zeros(3), np.zeros(3)
    ys, xs = np.nonzero(labels == min(sleeves, key=lambda k: stats[k, cv2.CC_STAT_TOP]))
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    axis = pts.mean(axis=0) - shoulder
    reach = (pts - shoulder) @ axis / max(np.linalg.norm(axis), 1e-6)
    end = pts[reach >= np.quantile(reach, 0.95)].mean(axis=0)  # the cuff's centre
    length = float(np.linalg.norm(end - shoulder))
    direction = (end - shoulder) / max(length, 1e-6)
    if length >= LONG_SLEEVE * torso_height:  # a long sleeve: the cuff is the wrist, the elbow half way
        middle = pts[np.abs(reach - reach.max() / 2) <= 0.03 * length].mean(axis=0)
        return np.array([*middle, ON_GARMENT]), np.array([*end, ON_GARMENT])
    # A shorter sleeve gives the arm's direction; elbow and wrist follow human proportions along it.
    upper_arm = UPPER_ARM * torso_height
    elbow_conf = ON_GARMENT if upper_arm <= length * 1.1 else EXTRAPOLATED
    return (np.array([*(shoulder + direction * upper_arm), elbow_conf]),
            np.array([*(shoulder + direction * WHOLE_ARM * torso_height), EXTRAPOLATED]))


def _shoulders(mask: np.ndarray, top: int, torso_rows: np.ndarray, centre: float) -> dict[str, np.ndarray]:
    """Shoulders where the torso's sides meet the garment's top edge, and the neck between them."""
    left, right = _torso_edges(mask, torso_rows, centre)
    points = {}
    for name, edge in (("r_shoulder", left), ("l_shoulder", right)):
        column = mask[:, int(round(edge))]
        y = float(np.argmax(column)) if column.any() else float(top)
        points[name] = np.array([edge, y, ON_GARMENT])
    points["neck"] = np.array([*(points["r_shoulder"][:2] + points["l_shoulder"][:2]) / 2, ON_GARMENT])
    return points


def _upper_points(mask: np.ndarray, shoulders: dict[str, np.ndarray], hip_y: float) -> dict[str, np.ndarray]:
    """Shoulders and neck (given), sleeves, and the hips where the torso meets row `hip_y`."""
    points = dict(shoulders)
    shoulder_y = (shoulders["r_shoulder"][1] + shoulders["l_shoulder"][1]) / 2
    centre = float(shoulders["neck"][0])
    run = _run_at(mask, hip_y, centre) or (shoulders["r_shoulder"][0], shoulders["l_shoulder"][0] + 1)
    inset = 0.12 * (run[1] - run[0])  # hip joints sit inside the body's outline
    points["r_hip"] = np.array([run[0] + inset, hip_y, ON_GARMENT])
    points["l_hip"] = np.array([run[1] - 1 - inset, hip_y, ON_GARMENT])
    for side, prefix in ((-1, "r"), (1, "l")):
        shoulder = shoulders[f"{prefix}_shoulder"]
        points[f"{prefix}_elbow"], points[f"{prefix}_wrist"] = _sleeve(
            mask, shoulder[:2], shoulder[0], side, shoulder_y, hip_y)
    return points


def _leg_points(mask: np.ndarray, hip_y: float, hem: int) -> dict[str, np.ndarray]:
    """Knees and ankles on each leg's centre line; a skirt (one tube at mid-length) has its knees on the hem and no
    ankles."""
    def legs_at(y: float) -> tuple[tuple[int, int], tuple[int, int]] | None:
        runs = [r for r in _runs(mask[int(min(y, mask.shape[0] - 1))]) if r[1] - r[0] > 0.02 * mask.shape[1]]
        return (runs[0], runs[-1]) if len(runs) >= 2 else None

    length = hem - hip_y
    points: dict[str, np.ndarray] = {}
    if legs_at(hip_y + 0.5 * length) is None:  # a skirt
        y = hem - 0.02 * length
        run = _run_at(mask, y, float(np.median(np.nonzero(mask)[1]))) or (0, mask.shape[1])
        width = run[1] - run[0]
        points["r_knee"] = np.array([run[0] + 0.3 * width, y, ON_GARMENT])
        points["l_knee"] = np.array([run[1] - 1 - 0.3 * width, y, ON_GARMENT])
        points["r_ankle"] = points["l_ankle"] = np.zeros(3)
        return points
    for name, fraction in (("knee", 0.5), ("ankle", 0.97)):
        y = hip_y + fraction * length
        legs = legs_at(y)
        for side, run in zip("rl", legs or ()):
            points[f"{side}_{name}"] = np.array([(run[0] + run[1] - 1) / 2, y, ON_GARMENT])
        if legs is None:
            points[f"r_{name}"] = points[f"l_{name}"] = np.zeros(3)
    return points


def silhouette_landmarks(image: np.ndarray, category: str) -> GarmentLandmarks:
    """Deterministic landmark estimate from the garment's outline on a plain background (module docstring)."""
    check_category(category)
    mask = garment_silhouette(image)
    names = SCHEMAS[category]
    height, width = image.shape[:2]
    if mask.sum() < 100:
        return GarmentLandmarks(category, names, np.zeros((len(names), 3), np.float32), True, height, width)
    ys, xs = np.nonzero(mask)
    top, hem = int(ys.min()), int(ys.max())
    centre = float(np.median(xs))
    if category == "upper":
        length = hem - top
        shoulders = _shoulders(mask, top, np.linspace(top + 0.6 * length, top + 0.9 * length, 12), centre)
        points = _upper_points(mask, shoulders, hem - 0.03 * length)
    elif category == "lower":
        hip_y = top + 0.08 * (hem - top)
        run = _run_at(mask, hip_y, centre) or (xs.min(), xs.max() + 1)
        inset = 0.2 * (run[1] - run[0])
        points = {"r_hip": np.array([run[0] + inset, hip_y, ON_GARMENT]),
                  "l_hip": np.array([run[1] - 1 - inset, hip_y, ON_GARMENT])}
        points.update(_leg_points(mask, hip_y, hem))
    else:
        # The bodice (15-30% down a dress) gives the torso's sides; human proportions place the hips one torso
        # length (~1.25 shoulder widths) below the shoulders and the knees one shoulder width further.
        length = hem - top
        shoulders = _shoulders(mask, top, np.linspace(top + 0.15 * length, top + 0.3 * length, 12), centre)
        shoulder_y = (shoulders["r_shoulder"][1] + shoulders["l_shoulder"][1]) / 2
        shoulder_width = shoulders["l_shoulder"][0] - shoulders["r_shoulder"][0]
        hip_y = min(shoulder_y + 1.25 * shoulder_width, top + 0.6 * length)
        points = _upper_points(mask, shoulders, hip_y)
        knee_y = min(hip_y + shoulder_width, hem)
        # The skirt's extent at the knees, ignoring hanging sleeves (outside the hips' span widened by half).
        hip_width = points["l_hip"][0] - points["r_hip"][0]
        row = np.flatnonzero(mask[int(min(knee_y, hem - 0.05 * length))])
        row = row[(row > points["r_hip"][0] - hip_width / 2) & (row < points["l_hip"][0] + hip_width / 2)]
        left, right = (row.min(), row.max()) if len(row) else (points["r_hip"][0], points["l_hip"][0])
        conf = ON_GARMENT if knee_y < hem else EXTRAPOLATED
        points["r_knee"] = np.array([left + 0.3 * (right - left), knee_y, conf])
        points["l_knee"] = np.array([right - 0.3 * (right - left), knee_y, conf])
    array = np.array([points[name] for name in names], dtype=np.float32)
    return GarmentLandmarks(category, names, array, estimated=True, height=height, width=width)
