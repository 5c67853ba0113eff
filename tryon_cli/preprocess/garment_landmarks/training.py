"""Training the garment landmark model with ultralytics on a YOLO-pose dataset (format in docs/preprocessing.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.preprocess.garment_landmarks.layout import CLASS_NAMES, FLIP_IDX, LAYOUT
from tryon_cli.weights import path_of


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
        raise InputError(
            f"{data}: kpt_shape must be [{len(LAYOUT)}, 3] (dpidm's garment layout), got {kpt_shape or 'none'}"
        )
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
    model.train(
        data=str(Path(data).resolve()),
        epochs=epochs,
        imgsz=imgsz,
        device=device,
        batch=batch,
        workers=workers,
        plots=plots,
        project=str(runs_dir.resolve()),
        name="train",
        exist_ok=True,
        verbose=False,
    )
    weights_dir = Path(model.trainer.save_dir) / "weights"
    best = next((p for p in (weights_dir / "best.pt", weights_dir / "last.pt") if p.is_file()), None)
    if best is None:
        raise MissingWeightsError(f"ultralytics wrote no checkpoint under {weights_dir}")
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, output)
    return output
