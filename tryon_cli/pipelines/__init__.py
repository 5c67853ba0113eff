"""DPIDM's inference as tensors in, tensors out: `DPIDMTryOnPipeline` (guided sliding windows, the garment encoded
once), the sampling loop (`sampling.sample`, any diffusers scheduler) and the window schedule. The video around it
is `tryon_cli.tryon`."""
