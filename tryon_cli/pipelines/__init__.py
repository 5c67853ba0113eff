"""DPIDM's inference as tensors in, tensors out: `DPIDMTryOnPipeline` (guided DDIM over sliding windows, the
garment encoded once), its sampler step and its window schedule. The video around it is `tryon_cli.tryon`."""
