"""Garment landmarks from the trained YOLOv8 pose model (ultralytics, weights key `garment-landmarks`), with the
silhouette estimate (`estimate.py`) where there is no model or it finds no garment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tryon_cli.errors import InputError
from tryon_cli.preprocess.garment_landmarks.estimate import silhouette_landmarks
from tryon_cli.preprocess.garment_landmarks.layout import CLASS_NAMES, LAYOUT, SCHEMAS
from tryon_cli.preprocess.garment_landmarks.silhouette import product_shot_warnings
from tryon_cli.preprocess.human_pose import model_device
from tryon_cli.preprocess.keypoints import GarmentLandmarks
from tryon_cli.preprocess.masks import check_category
from tryon_cli.weights import path_of


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
    result = model.predict(
        np.ascontiguousarray(image[..., ::-1]),
        imgsz=int(train_args.get("imgsz", 640)),
        conf=0.0,
        device=model_device(device),
        verbose=False,
    )[0]
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
