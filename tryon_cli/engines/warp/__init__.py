"""The warp engine: dpidm's weights-free, pose-driven try-on (see `engine.py` and docs/warp_engine.md)."""

from tryon_cli.engines.warp.engine import WarpEngine

__all__ = ["WarpEngine"]
