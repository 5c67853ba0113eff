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


_SET_HERE: set[str] = set()
"""The variables that `apply_offline_defaults` set (the user had not)."""


def apply_offline_defaults() -> None:
    """Set the offline variables that the user has not set. Call before importing ultralytics or transformers."""
    for name, value in _DEFAULTS.items():
        if name not in os.environ:
            os.environ[name] = value
            _SET_HERE.add(name)
    # ultralytics writes settings to its config dir at import time and probes DNS when it has none.
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "dpidm-ultralytics"))


def allow_hub_downloads() -> None:
    """For a command whose job is to download from the Hugging Face hub (`dpidm weights fetch`): lift the hub's
    offline defaults set above (HF_HUB_OFFLINE, and TRANSFORMERS_OFFLINE, which huggingface_hub also reads), but
    keep what the user set. Call before huggingface_hub is imported (it reads them once)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if name in _SET_HERE:
            os.environ[name] = "0"
