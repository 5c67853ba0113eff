"""What a DPIDM checkpoint was trained on, and what a try-on (`dpidm tryon`, the demo) does with it: the training
size and clip length become the default frame size and window, a pose backend other than the training one stops the
run (unless --allow-other-pose-backend), and a model trained on a dataset's own masks gets a note, since try-on
builds dpidm's masks. Checkpoints from before these facts were recorded carry None and change nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import InputError

ALLOW_FLAG = "--allow-other-pose-backend"
WINDOW = 24  # the paper's window (T = 24 frames) when the checkpoint does not say its training clip length


@dataclass(frozen=True)
class TrainedOn:
    height: int | None = None
    width: int | None = None
    clip_length: int | None = None
    mask_source: str | None = None
    pose_backend: str | None = None
    pose_keypoints: str | None = None

    @property
    def window(self) -> int:
        """The sliding window a try-on uses by default: the training clip length (PATA never saw later positions)."""
        return self.clip_length or WINDOW


def checkpoint_read(model: str, checkpoint: Path | None, weights: Path | None) -> Path | None:
    """The checkpoint whose training facts a try-on with `--model model` reads, None when it reads none (the warp
    engine, an untrained tiny model, no checkpoint installed): then the defaults above hold and are known before any
    file is read. Cheap and torch-free (`model` as given: "auto" is a checkpoint's engine if there is one)."""
    from tryon_cli.engines import default_checkpoint

    if model == "warp" or (model == "tiny" and checkpoint is None):
        return None
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(weights)
    return folder if folder.exists() else None  # a missing one: the engine says so, with its advice


def trained_on(kind: str, checkpoint: Path | None, weights: Path | None) -> TrainedOn:
    """The training facts of the checkpoint engine `kind` will run (nothing for the warp engine or an untrained
    tiny model); read from its config.json, before the model is built."""
    folder = checkpoint_read(kind, checkpoint, weights)
    if folder is None:
        return TrainedOn()
    from tryon_cli.models.checkpoint import resolve_checkpoint

    config = resolve_checkpoint(folder, base=kind).config
    return TrainedOn(
        config.get("train_height"),
        config.get("train_width"),
        config.get("clip_length"),
        config.get("mask_source"),
        config.get("pose_backend"),
        config.get("pose_keypoints"),
    )


def check_pose_backend(trained: TrainedOn, weights: Path | None, allow: bool) -> None:
    """InputError when this machine's pose backend is not the one the model was trained with (pose maps of another
    keypoint set or another detector's habits), unless `allow`."""
    from tryon_cli.preprocess.human_pose import resolve_backend

    if trained.pose_backend is None or allow:
        return
    here = resolve_backend("auto", weights)
    if trained.pose_backend == here:
        return
    keypoints = f" ({trained.pose_keypoints})" if trained.pose_keypoints else ""
    raise InputError(
        f"this checkpoint was trained on {trained.pose_backend} poses{keypoints}, and the pose backend here is "
        f"{here}; install {trained.pose_backend}'s weights (see `dpidm weights`), or pass {ALLOW_FLAG} to run on "
        f"{here} poses anyway"
    )


def mask_note(trained: TrainedOn) -> str | None:
    if trained.mask_source != "dataset":
        return None
    return (
        "this checkpoint was trained on the dataset's own agnostic masks (data.masks=dataset); try-on builds "
        "dpidm's, which differ: expect edges where they do (give your own with --mask, or train on dpidm's masks)"
    )
