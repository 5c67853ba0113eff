"""What `dpidm eval` reports: one `MetricResult` per metric, gathered in an `EvalReport` (also its JSON form)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class MetricResult:
    metric: str
    value: float
    protocol: str
    videos: dict[str, int]
    """Items per side: {"pred": n, "gt": m} (videos, or images in image mode); "source" instead of "gt" for
    temporal metrics."""
    frames: dict[str, int]
    """Frames per side that went into the value (after truncation; for VFID the frames inside clips)."""
    weights: list[dict[str, str]] = field(default_factory=list)
    """[{"file": path, "sha256": hex}] of each weight file used; empty for SSIM and warp_error."""
    per_video: dict[str, float] = field(default_factory=dict)
    """Paired and temporal metrics: prediction name -> its value."""
    samples: dict[str, int] = field(default_factory=dict)
    """Distribution metrics only: feature vectors per side (frames for FID/KID, clips for VFID)."""
    source: dict = field(default_factory=dict)
    """Temporal metrics only: {"value": the source videos' own, "ratio": value / that, "per_video": {...}}."""


@dataclass
class EvalReport:
    mode: str
    results: list[MetricResult]
    skipped: dict[str, str]
    """metric -> why it did not run."""
    notes: list[str]
    """Truncations, resizes and other adjustments, each said once."""

    def to_json(self) -> str:
        metrics = {r.metric: {k: v for k, v in asdict(r).items() if k != "metric"} for r in self.results}
        return json.dumps(
            {"mode": self.mode, "metrics": metrics, "skipped": self.skipped, "notes": self.notes}, indent=2
        )
