"""The names `dpidm eval` accepts, in a module without heavy imports so that the CLI can show them in --help.
The metric objects behind them are `registry.REGISTRY` (same names, same order)."""

METRICS = ("ssim", "lpips", "fid", "kid", "vfid_i3d", "vfid_resnext", "warp_error")
DEFAULT_METRICS = {"video": ("ssim", "lpips", "vfid_i3d", "vfid_resnext"), "image": ("ssim", "lpips", "fid", "kid")}
"""With ground truth (--gt); with a source (--source) the video default adds warp_error."""
SOURCE_METRICS = ("warp_error",)
"""Metrics that compare with the source video (--source) instead of ground truth."""
PROTOCOLS = ("standard", "catv2ton")
"""VFID clip protocols (docs/metrics.md): every 10-frame clip in RGB, or the public code's first-10-frames in BGR."""
