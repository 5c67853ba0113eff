"""Shared fixtures. Tests that read the sample data in ../shared skip cleanly where it is absent (a user's clone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tryon_cli.offline import apply_offline_defaults

apply_offline_defaults()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DPIDM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` (real sample videos, garments, masks); skips the test when it is not there."""
    if not (SHARED_DATA / "MANIFEST.md").is_file():
        pytest.skip(f"sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture()
def weights_root(tmp_path, monkeypatch) -> Path:
    """An empty weights root, set as $DPIDM_WEIGHTS for the test."""
    root = tmp_path / "weights"
    root.mkdir()
    monkeypatch.setenv("DPIDM_WEIGHTS", str(root))
    return root


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests run tiny models: intra-op threads gain nothing there, and on a busy 2-core machine their
    spin-waits made the model tests 8x slower (125 s against 16 s for tests/test_models.py)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
