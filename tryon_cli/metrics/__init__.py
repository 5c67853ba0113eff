"""Try-on metrics computed as the field computes them (REFERENCE section 3).

Pure statistics (`frechet`, `kid`, `ssim`) are separate from the feature networks (`inception`, `i3d`,
`resnext3d`, `lpips`); `inputs` pairs prediction and ground-truth items, `vfid` cuts videos into clips per
protocol, and `evaluate` runs it all for `dpidm eval`. See docs/metrics.md.
"""
