"""The DPIDM model (paper 3.2-3.5): `dpidm.py` holds the container; `delta.py` DPIDM's trainable modules;
`attention/` holds PASA, TSA, PATA."""

from tryon_cli.models.checkpoint import CheckpointInfo, resolve_checkpoint
from tryon_cli.models.delta import PHASES, VARIANTS, DPIDMDelta
from tryon_cli.models.dpidm import DPIDM
from tryon_cli.models.garment_bank import GarmentConditions
from tryon_cli.models.main_unet import inpainting_input

__all__ = [
    "DPIDM",
    "PHASES",
    "VARIANTS",
    "CheckpointInfo",
    "DPIDMDelta",
    "GarmentConditions",
    "inpainting_input",
    "resolve_checkpoint",
]
