"""What `dpidm tryon` offers and its per-model defaults, in a module without heavy imports so that the CLI can
show them in --help without loading torch."""

# Defaults per engine that `--model` resolves to ("auto" is one of these): the paper's for the real model; for the
# tiny install check, few steps at a small size so the shipped example runs in about a minute on a 2-core CPU (it
# is untrained: more steps would not help); the warp engine has no steps.
MODEL_DEFAULTS = {
    "sd15": {"steps": 30, "height": 512, "width": 384},
    "tiny": {"steps": 4, "height": 128, "width": 96},
    "warp": {"steps": None, "height": 512, "width": 384},
}

# How the noise predictions of overlapping sliding windows are averaged (see sliding_window.py).
WEIGHT_KINDS: tuple[str, ...] = ("flat", "pyramid")
