"""Try-on engines: crop-space conditions in, crop-space frames out (the interface is in `base.py`)."""
