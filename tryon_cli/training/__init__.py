"""`dpidm train`: the paper's image-video joint training (section 3.6); see docs/training.md."""
