"""Garment landmarks: points on a garment photo named after the human keypoints they correspond to (paper 3.3).

One YOLOv8 pose model (ultralytics, weights key `garment-landmarks`) serves every category: three classes
(`upper`, `lower`, `dress`) over one 13-point layout (`layout.py`). By job:
- `model`: `detect_garment_landmarks`, the model's landmarks, else the silhouette estimate, with notes;
- `training`: `train_garment` and the dataset yaml check (format in docs/preprocessing.md);
- `silhouette`: the garment's mask on a plain background, and the warnings for photos that are not product shots;
- `estimate`: `silhouette_landmarks`, the landmarks found on the garment's own outline (marked `estimated`).
"""

from tryon_cli.preprocess.garment_landmarks.estimate import silhouette_landmarks
from tryon_cli.preprocess.garment_landmarks.layout import (
    CLASS_NAMES,
    FLIP_IDX,
    LAYOUT,
    OFF_GARMENT,
    ON_GARMENT,
    PROPORTIONAL,
    SCHEMAS,
)
from tryon_cli.preprocess.garment_landmarks.model import detect_garment_landmarks
from tryon_cli.preprocess.garment_landmarks.silhouette import garment_silhouette, product_shot_warnings
from tryon_cli.preprocess.garment_landmarks.training import load_dataset_yaml, train_garment

__all__ = [
    "CLASS_NAMES",
    "FLIP_IDX",
    "LAYOUT",
    "OFF_GARMENT",
    "ON_GARMENT",
    "PROPORTIONAL",
    "SCHEMAS",
    "detect_garment_landmarks",
    "garment_silhouette",
    "load_dataset_yaml",
    "product_shot_warnings",
    "silhouette_landmarks",
    "train_garment",
]
