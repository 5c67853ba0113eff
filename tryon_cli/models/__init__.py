"""The DPIDM model (paper 3.2-3.5): `dpidm.py` holds the container; `attention/` holds PASA, TSA, PATA."""

from tryon_cli.models.dpidm import DPIDM, PHASES
from tryon_cli.models.garment_bank import GarmentConditions
from tryon_cli.models.main_unet import inpainting_input

__all__ = ["DPIDM", "PHASES", "GarmentConditions", "inpainting_input"]
