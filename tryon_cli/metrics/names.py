"""The names `dpidm eval` accepts, in a module without heavy imports so that the CLI can show them in --help."""

METRICS = ("ssim", "lpips", "fid", "kid", "vfid_i3d", "vfid_resnext")
DEFAULT_METRICS = {"video": ("ssim", "lpips", "vfid_i3d", "vfid_resnext"), "image": ("ssim", "lpips", "fid", "kid")}
PROTOCOLS = ("standard", "catv2ton")
"""VFID clip protocols (docs/metrics.md): every 10-frame clip in RGB, or the public code's first-10-frames in BGR."""
