"""Reading weight files for the metric networks: one-line errors for unreadable or mismatched files, and the
sha256 that the results record so that a number can be traced to the exact weights behind it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from tryon_cli.errors import InputError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: Path) -> dict:
    """`torch.load` of a weight file with tensors only (no code is run), as a one-line InputError when it fails."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file; all mean "unreadable"
        raise InputError(f"cannot read weight file {path}: {str(err).splitlines()[0]}") from None


def load_strict(model: nn.Module, state: dict, path: Path, what: str) -> None:
    """`model.load_state_dict(state, strict=True)`, with a mismatch explained in one line naming the file."""
    if not isinstance(state, dict):
        raise InputError(f"{path} does not hold a {what} state dict (found {type(state).__name__})")
    expected = set(model.state_dict())
    # Files saved by PyTorch < 0.4 have no BatchNorm step counters; PyTorch fills those in itself.
    missing = sorted(k for k in expected - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - expected)
    wrong_shape = sorted(
        k for k in expected & set(state) if tuple(state[k].shape) != tuple(model.state_dict()[k].shape)
    )
    if missing or unexpected or wrong_shape:
        details = [
            f"{len(names)} {label} (e.g. {names[0]})"
            for label, names in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("wrong shapes", wrong_shape),
            )
            if names
        ]
        raise InputError(f"{path} does not match the {what} layout: {', '.join(details)}")
    model.load_state_dict(state, strict=False)
