"""Training state (optimiser, scheduler, grad scaler, RNG states) on disk without pickle: every tensor and NumPy
array into one safetensors file, the structure around them (numbers, strings, lists, dicts with int keys, tuples)
into JSON. Reading it back runs no code from the file, unlike `torch.load(weights_only=False)`.

    save_state(obj, folder / "trainer_state")   # writes trainer_state.json + trainer_state.safetensors
    obj = load_state(folder / "trainer_state")

The round trip is exact: tensors keep dtype and bits, tuples stay tuples, int dict keys stay ints (an optimiser's
state is keyed by parameter index), NumPy arrays come back as arrays of their dtype.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tryon_cli.errors import InputError

# Markers of the JSON encoding; a plain dict is written as is when all its keys are strings.
_TENSOR, _ARRAY, _TUPLE, _ITEMS = "__tensor__", "__ndarray__", "__tuple__", "__items__"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().to("cpu").contiguous()
        return {_TENSOR: key}
    if isinstance(value, np.ndarray):
        key = str(len(tensors))
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value))
        return {_ARRAY: key}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, tensors) for k, v in value.items()}
        return {_ITEMS: [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the training state")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if _TENSOR in value:
        return tensors[value[_TENSOR]]
    if _ARRAY in value:
        return tensors[value[_ARRAY]].numpy()
    if _TUPLE in value:
        return tuple(_decode(v, tensors) for v in value[_TUPLE])
    if _ITEMS in value:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value[_ITEMS]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def save_state(value: Any, stem: Path) -> None:
    """Write `stem`.json and `stem`.safetensors."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(value, tensors)
    save_file(tensors, str(stem.with_suffix(".safetensors")))
    stem.with_suffix(".json").write_text(json.dumps(structure) + "\n")


def load_state(stem: Path) -> Any:
    """Read what `save_state` wrote (one InputError line when either file is missing or unreadable)."""
    structure_file, tensor_file = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    for path in (structure_file, tensor_file):
        if not path.is_file():
            raise InputError(f"incomplete checkpoint: {path} not found")
    try:
        return _decode(json.loads(structure_file.read_text()), load_file(str(tensor_file)))
    except (ValueError, KeyError, OSError) as err:
        raise InputError(f"unreadable training state {stem}: {err}") from None
