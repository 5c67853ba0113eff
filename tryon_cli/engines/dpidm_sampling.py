"""How DPIDM samples (`DPIDMSampling`), in a module without torch: `dpidm tryon` builds it for every engine, and
the warp engine, which needs no torch, should not pay for importing it (about 500 MB of resident memory and seconds
of start-up on the CPU machines dpidm targets)."""

from __future__ import annotations

from dataclasses import dataclass

from tryon_cli.errors import SettingError
from tryon_cli.pipelines.choices import WEIGHT_KINDS
from tryon_cli.pipelines.sliding_window import check_window


@dataclass(frozen=True)
class DPIDMSampling:
    """How DPIDM samples: DDIM steps, guidance scale, seed, and the sliding windows (window=None: one window)."""

    steps: int = 30
    guidance: float = 1.5
    seed: int = 0
    window: int | None = 24
    overlap: int = 8
    weighting: str = "flat"

    def __post_init__(self):
        if self.steps < 1:
            raise SettingError("steps", f"must be at least 1, got {self.steps}")
        if self.weighting not in WEIGHT_KINDS:
            raise SettingError("weighting", f"must be one of {', '.join(WEIGHT_KINDS)}, got {self.weighting!r}")
        check_window(self.window, self.overlap)
