"""What `dpidm demo` was started with: upload limits, the engines it offers, the examples it shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tryon_cli.engines import resolve_model

# The shipped example clips and garments (in a source checkout or an editable install; a wheel has none).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_ROWS = (  # video, garment, category
    ("person.mp4", "garment_upper_00057_00.jpg", "upper"),
    ("person.mp4", "garment_upper_00126_00.jpg", "upper"),
    ("person_lower.mp4", "garment_lower_051985_1.jpg", "lower"),
)

WARP, DPIDM = "warp", "dpidm"


@dataclass(frozen=True)
class DemoConfig:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    checkpoint: Path | None = None  # a DPIDM checkpoint; default: weights/dpidm/ when it holds one
    weights_root: Path | None = None
    device: str = "cpu"  # resolved: "cpu", "cuda", "cuda:1"
    dtype: str = "fp32"
    max_upload_mb: int = 50  # per file, enforced by the server while the upload arrives
    max_frames: int = 240  # frames in an uploaded video (counted by dpidm's reader before any work)
    queue_size: int = 16  # jobs waiting at most; one runs at a time

    def engines(self) -> list[str]:
        """The engines on offer: the warp engine, and DPIDM when there is a checkpoint to load."""
        return [WARP] if resolve_model("auto", self.checkpoint, self.weights_root) == "warp" else [WARP, DPIDM]


def example_rows() -> list[list[str]]:
    """The example rows whose files are present, as [video path, garment path, category]."""
    rows = [[str(EXAMPLES / video), str(EXAMPLES / garment), category] for video, garment, category in EXAMPLE_ROWS]
    return [row for row in rows if Path(row[0]).is_file() and Path(row[1]).is_file()]
