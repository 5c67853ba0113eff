"""Offline hygiene: keep third-party libraries from phoning home or writing to the home folder.

Each variable is set only when the user has not set it, so a user who wants ultralytics or the Hugging Face hub
to download can say so (`HF_HUB_OFFLINE=0 dpidm ...`).
"""

import os
import tempfile
from pathlib import Path

_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DIFFUSERS_OFFLINE": "1",
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "0",
    "YOLO_VERBOSE": "False",
    "ORT_DISABLE_TELEMETRY": "1",
}


def apply_offline_defaults() -> None:
    """Set the offline variables that the user has not set. Call before importing ultralytics or transformers."""
    for name, value in _DEFAULTS.items():
        os.environ.setdefault(name, value)
    # ultralytics writes settings to its config dir at import time and probes DNS when it has none.
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "dpidm-ultralytics"))
