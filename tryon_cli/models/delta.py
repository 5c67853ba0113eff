"""DPIDM's trainable delta: every module DPIDM adds to SD1.5 or fine-tunes, in one diffusers model.

`DPIDMDelta` is a diffusers `ModelMixin` + `ConfigMixin` (as `MotionAdapter` is for AnimateDiff): its
`save_pretrained` / `from_pretrained` write and read a folder of `config.json` + `diffusion_pytorch_model.safetensors`,
which is a DPIDM checkpoint. It is the one place that lists DPIDM's own modules (`PHASE_PARTS`):

    pose_encoder                                   the four-conv pose encoder (3.2)
    blocks.<block>.attn1, .attn2                   the main U-Net's self- and cross-attention (fine-tuned)
    blocks.<block>.pasa_adapter                    Eq. 3 adapter of PASA (Eq. 4)
    blocks.<block>.tsa                             temporal-shift attention (Eq. 5)
    blocks.<block>.pata                            pose-aware temporal attention, with its own adapter
    context.tokens                                 the garment U-Net's text context (a buffer, not trained)
    base.main_unet.*, base.garment_unet.*          with `trains_base` only: the rest of both U-Nets, trained
                                                   in both phases and saved beside the delta (BASE_WEIGHTS_NAME)

`<block>` is the main U-Net's transformer block name with dots as underscores. Inside `DPIDM` these are the very
modules the main U-Net runs (`MainUNet` wires them in; `attn1`/`attn2` are taken over from the pretrained U-Net),
so the delta is the checkpoint's view of the model, not a copy.

The config records what a checkpoint needs to be rebuilt and described: `base` ("tiny" or "sd15": which frozen
base it belongs to), `variant` (paper Table 4), the main U-Net structure the blocks follow, the module
hyper-parameters, and the training facts that `dpidm train` fills (train height/width, clip length, dpidm version).
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import ModelMixin, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention_processor import Attention
from diffusers.utils import SAFETENSORS_WEIGHTS_NAME
from safetensors.torch import load_file, save_file
from torch import nn

from tryon_cli.errors import InputError
from tryon_cli.models.attention.pata import PoseAwareTemporalAttention
from tryon_cli.models.attention.tsa import TemporalShiftAttention
from tryon_cli.models.configs import NOISE_SCHEDULES
from tryon_cli.models.garment_bank import transformer_block_names
from tryon_cli.models.pose_adapter import PoseAdapter
from tryon_cli.models.pose_encoder import PoseEncoder

BASES = ("tiny", "sd15")
GARMENT_CONTEXTS = ("empty_prompt", "clip_image")
PROMPT_TOKENS = 77
"""SD1.5's text context length (CLIP's tokenizer pads every prompt to 77 tokens)."""


@dataclass(frozen=True)
class Variant:
    """One row of the paper's Table 4."""

    pose: bool
    """Pose in attention: the pose encoder, PASA's adapter and PATA's adapter (else plain spatial attention over
    [human, garment] tokens and plain temporal attention)."""
    tsa: bool
    tra: bool
    """Train with the TRA loss (Eq. 6); the modules do not depend on it."""
    description: str


VARIANTS = {
    "a": Variant(False, False, False, "baseline: standard spatial and temporal attention, no pose, no TSA"),
    "b": Variant(True, False, False, "pose-aware spatial and temporal attention (PASA + PATA)"),
    "c": Variant(True, True, False, "(b) + temporal-shift attention (TSA)"),
    "d": Variant(True, True, True, "(c) + TRA loss: DPIDM"),
}

TRAINING_FACTS = (
    "train_height",
    "train_width",
    "clip_length",
    "mask_source",
    "pose_backend",
    "pose_keypoints",
    "dpidm_version",
)
"""What a checkpoint records about its training, for `dpidm tryon` to follow: the size and clip length, the
agnostic masks ("dpidm" or "dataset"), the pose backend and its keypoint set ("body" or "body+hands+face"), and
dpidm's version. Recorded only: they do not change the modules."""

BASE_WEIGHTS_NAME = "base.safetensors"
"""The file of a `trains_base` checkpoint that holds the trained base: both U-Nets' parameters not in the delta."""

PHASES = ("image", "video")
PHASE_PARTS = {"image": ("pose_encoder", "attn1", "attn2", "pasa_adapter"), "video": ("tsa", "pata")}
"""Which parts train in which phase (paper 3.6): image steps train PASA (attn1, its adapter, the pose encoder)
and CA (attn2); video steps train TSA and PATA."""

# The main U-Net config keys that fix its transformer blocks (names, widths, heads, context width).
UNET_STRUCTURE_KEYS = (
    "down_block_types",
    "up_block_types",
    "block_out_channels",
    "layers_per_block",
    "attention_head_dim",
    "cross_attention_dim",
    "norm_num_groups",
)


def unet_structure(unet_config: dict) -> dict:
    return {key: unet_config[key] for key in UNET_STRUCTURE_KEYS if key in unet_config}


def part_of(delta_name: str) -> str:
    """The part ("pose_encoder", "attn1", ..., "pata") a delta parameter name belongs to."""
    pieces = delta_name.split(".")
    return pieces[2] if pieces[0] == "blocks" else pieces[0]


def block_key(name: str) -> str:
    """The delta's name of a main U-Net transformer block (module names cannot hold dots)."""
    return name.replace(".", "_")


@dataclass(frozen=True)
class BlockSpec:
    name: str
    dim: int
    heads: int
    cross_attention_dim: int


def block_specs(structure: dict) -> list[BlockSpec]:
    """The transformer blocks of a U-Net with this structure, in execution order (built on the meta device: no
    memory, no arithmetic)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**structure)
    specs = []
    for name in transformer_block_names(unet):
        block = unet.get_submodule(name)
        specs.append(BlockSpec(name, block.norm1.normalized_shape[0], block.attn1.heads, block.attn2.to_k.in_features))
    return specs


class BlockDelta(nn.Module):
    """DPIDM's parts of one main U-Net transformer block (None where the variant has no such part)."""

    def __init__(
        self,
        spec: BlockSpec,
        pose_dim: int | None,
        adapter_dim: int,
        shift_frames: int | None,
        pata_pose_in_residual: bool,
    ):
        super().__init__()
        # SD1.5's attention layers (no q/k/v bias); inside DPIDM they are the pretrained U-Net's own (`adopt`).
        head_dim = spec.dim // spec.heads
        self.attn1 = Attention(query_dim=spec.dim, heads=spec.heads, dim_head=head_dim)
        self.attn2 = Attention(
            query_dim=spec.dim, cross_attention_dim=spec.cross_attention_dim, heads=spec.heads, dim_head=head_dim
        )
        self.pasa_adapter = None if pose_dim is None else PoseAdapter(pose_dim, adapter_dim, spec.dim)
        self.tsa = None if shift_frames is None else TemporalShiftAttention(spec.dim, spec.heads, shift_frames)
        self.pata = PoseAwareTemporalAttention(spec.dim, spec.heads, pose_dim, adapter_dim, pata_pose_in_residual)

    def adopt(self, attn1: Attention, attn2: Attention) -> None:
        """Take over the pretrained U-Net block's attention layers (the same modules, not copies); a new TSA starts
        from the pretrained self-attention."""
        for name, layer in (("attn1", attn1), ("attn2", attn2)):
            mine = {k: v.shape for k, v in getattr(self, name).state_dict().items()}
            theirs = {k: v.shape for k, v in layer.state_dict().items()}
            if mine != theirs:
                raise ValueError(f"the U-Net's {name} does not fit the delta's block ({theirs} vs {mine})")
            setattr(self, name, layer)
        if self.tsa is not None:
            self.tsa.init_from(attn1)


class GarmentContext(nn.Module):
    """What the frozen garment U-Net's cross-attention reads: a fixed (1, 77, D) text context (`tokens`, a buffer:
    SD1.5's empty-prompt embedding once `DPIDM.from_pretrained` has filled it), or, with `dim=None`, the garment's
    (B, 1, D) CLIP image embedding itself."""

    def __init__(self, dim: int | None):
        super().__init__()
        self.register_buffer("tokens", None if dim is None else torch.zeros(1, PROMPT_TOKENS, dim))

    def forward(self, image_embeds: torch.Tensor) -> torch.Tensor:
        if self.tokens is None:
            return image_embeds
        return self.tokens.to(image_embeds.dtype).expand(image_embeds.shape[0], -1, -1)


class DPIDMDelta(ModelMixin, ConfigMixin):
    """Every trainable DPIDM module of one variant, for a main U-Net of the given structure."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        base: str = "sd15",
        variant: str = "d",
        unet: dict | None = None,
        pose_encoder_channels: tuple[int, int, int] = (16, 32, 96),
        pose_adapter_dim: int = 64,
        tsa_shift_frames: int = 2,
        garment_timestep: int = 0,
        pata_pose_in_residual: bool = True,
        garment_context: str = "empty_prompt",
        trains_base: bool = False,
        noise_schedule: str = "sd15",
        train_height: int | None = None,
        train_width: int | None = None,
        clip_length: int | None = None,
        mask_source: str | None = None,
        pose_backend: str | None = None,
        pose_keypoints: str | None = None,
        dpidm_version: str | None = None,
    ):
        """`unet`: the main U-Net's structure (`unet_structure` of its config). Module hyper-parameters:
        `pose_encoder_channels` (widths of the first three pose-encoder convs), `pose_adapter_dim` (W_down's width,
        Eq. 3), `tsa_shift_frames` (L in Eq. 5), `garment_timestep` (the garment U-Net's timestep),
        `pata_pose_in_residual` (which PATA reading, see `attention/pata.py`), `garment_context` (what the frozen
        garment U-Net's cross-attention reads: "empty_prompt", SD1.5's embedding of the empty prompt, held in the
        buffer `context.tokens` and saved with the checkpoint; or "clip_image", the garment's projected CLIP image
        token), `trains_base` (train the rest of the main and garment U-Nets too and save them with the checkpoint:
        `train.trainable=all`, for the tiny test model, whose base is random; see `attach_base`), `noise_schedule` (what
        the main U-Net predicts, on which schedule: a key of `configs.NOISE_SCHEDULES`; `DPIDM` builds its scheduler
        from it, so try-on samples as the checkpoint was trained). The training facts
        are recorded only (None until `dpidm train` saves a checkpoint)."""
        super().__init__()
        if base not in BASES:
            raise ValueError(f"unknown DPIDM base {base!r}; choose one of {', '.join(BASES)}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown DPIDM variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        if garment_context not in GARMENT_CONTEXTS:
            raise ValueError(
                f"unknown garment context {garment_context!r}; choose one of {', '.join(GARMENT_CONTEXTS)}"
            )
        if noise_schedule not in NOISE_SCHEDULES:
            raise ValueError(f"unknown noise schedule {noise_schedule!r}; choose one of {', '.join(NOISE_SCHEDULES)}")
        if unet is None:
            raise ValueError("DPIDMDelta needs the main U-Net's structure (unet=unet_structure(config))")
        row = VARIANTS[variant]
        specs = block_specs(unet)
        first_width = unet["block_out_channels"][0]
        self.pose_encoder = PoseEncoder(tuple(pose_encoder_channels), first_width) if row.pose else None
        pose_dim = first_width if row.pose else None
        self.blocks = nn.ModuleDict(
            {
                block_key(spec.name): BlockDelta(
                    spec, pose_dim, pose_adapter_dim, tsa_shift_frames if row.tsa else None, pata_pose_in_residual
                )
                for spec in specs
            }
        )
        self.block_names = tuple(spec.name for spec in specs)
        self.context = GarmentContext(unet["cross_attention_dim"] if garment_context == "empty_prompt" else None)
        self._base: dict[str, nn.Module] = {}

    def attach_base(self, **unets: nn.Module) -> None:
        """The base U-Nets (by name) whose parameters a `trains_base` delta trains and saves; they are not registered
        here (they run, and are counted, where they are: in `DPIDM`), and the delta's own modules inside them are
        left out."""
        self._base = dict(unets)

    def named_base_parameters(self) -> dict[str, nn.Parameter]:
        """ "base.<unet>.<name>" -> parameter of the attached U-Nets' parameters that are not the delta's own; empty
        unless `trains_base`."""
        if not self.config.trains_base:
            return {}
        if not self._base:
            raise ValueError("a trains_base delta needs its U-Nets (attach_base) to train or save them")
        own = {id(p) for p in self.parameters()}
        return {
            f"base.{unet}.{name}": p
            for unet, module in self._base.items()
            for name, p in module.named_parameters()
            if id(p) not in own
        }

    @property
    def variant_row(self) -> Variant:
        """This delta's row of the paper's Table 4 (which modules it has, whether it trains with TRA)."""
        return VARIANTS[self.config.variant]

    def block(self, name: str) -> BlockDelta:
        return self.blocks[block_key(name)]

    def named_phase_parameters(self, phase: str) -> dict[str, nn.Parameter]:
        """Delta name -> parameter of the parts that train in `phase`, in a fixed order (with `trains_base`, the
        base U-Nets' parameters too, in both phases)."""
        if phase not in PHASE_PARTS:
            raise ValueError(f"unknown training phase {phase!r}; choose one of {', '.join(PHASES)}")
        own = {name: p for name, p in self.named_parameters() if part_of(name) in PHASE_PARTS[phase]}
        return {**own, **self.named_base_parameters()}

    def training_facts(self) -> dict:
        return {key: self.config.get(key) for key in TRAINING_FACTS}

    # ---- checkpoints: `save_pretrained` folders, loaded strictly -------------------------------------------------

    def save_checkpoint(self, directory: str | Path, **training_facts) -> Path:
        """`save_pretrained(directory)`: config.json + the weights of both training phases (the frozen SD1.5 parts
        come from `weights/`), with `training_facts` (`TRAINING_FACTS`) and dpidm's version in the config; with
        `trains_base`, the trained base U-Nets in BASE_WEIGHTS_NAME beside them."""
        from tryon_cli import __version__

        unknown = sorted(set(training_facts) - set(TRAINING_FACTS))
        if unknown:
            raise ValueError(f"unknown training facts {unknown}; known: {', '.join(TRAINING_FACTS)}")
        self.register_to_config(**{"dpidm_version": __version__, **training_facts})
        self.save_pretrained(directory)
        base = self.named_base_parameters()
        if base:
            save_file(
                {name: p.detach().contiguous() for name, p in base.items()}, str(Path(directory) / BASE_WEIGHTS_NAME)
            )
        return Path(directory)

    def load_checkpoint(self, folder: Path, config: dict) -> None:
        """The weights of the checkpoint in `folder` (its config.json read as `config`), strictly: the same module
        settings and variant, every tensor present with its shape, else InputError with a readable report."""
        theirs, ours = module_settings(config), module_settings(self.config)
        differ = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        if differ:
            shown = "; ".join(f"{k}: checkpoint {theirs.get(k)!r}, model {ours.get(k)!r}" for k in differ[:3])
            raise InputError(f"{folder} does not fit this model ({shown})")
        tensors = load_file(str(folder / SAFETENSORS_WEIGHTS_NAME))
        expected = self.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong_shape = sorted(n for n in set(expected) & set(tensors) if expected[n].shape != tensors[n].shape)
        if missing or unexpected or wrong_shape:
            problems = []
            if missing:
                problems.append(f"{len(missing)} missing ({_names(missing)})")
            if unexpected:
                problems.append(f"{len(unexpected)} unexpected ({_names(unexpected)})")
            if wrong_shape:
                problems.append(f"{len(wrong_shape)} of another shape ({_names(wrong_shape)})")
            raise InputError(f"{folder / SAFETENSORS_WEIGHTS_NAME} does not fit this model: " + "; ".join(problems))
        base = self.named_base_parameters()
        base_tensors = load_file(str(folder / BASE_WEIGHTS_NAME)) if base else {}
        if set(base_tensors) != set(base) or any(base_tensors[n].shape != p.shape for n, p in base.items()):
            raise InputError(f"{folder / BASE_WEIGHTS_NAME} does not fit this model's base U-Nets")
        with torch.no_grad():
            self.load_state_dict(tensors)
            for name, p in base.items():
                p.copy_(base_tensors[name])
        self.register_to_config(**{k: config.get(k) for k in TRAINING_FACTS})


def module_settings(config) -> dict:
    """The settings that must agree between a checkpoint and a model (all but training facts and diffusers'
    bookkeeping), JSON-normalised (tuples as lists)."""
    settings = {k: v for k, v in dict(config).items() if not k.startswith("_") and k not in TRAINING_FACTS}
    # A setting a checkpoint lacks did not exist when it was written: it was trained with the setting's default.
    defaults = {
        k: p.default
        for k, p in inspect.signature(DPIDMDelta.__init__).parameters.items()
        if k != "self" and k not in TRAINING_FACTS
    }
    return json.loads(json.dumps({**defaults, **settings}))


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def new_delta(config, base: str, settings: dict) -> DPIDMDelta:
    """Fresh DPIDM modules for a `DPIDMConfig`'s main U-Net: the base's default settings, then `settings`
    (variant and module hyper-parameters, e.g. from a checkpoint's config)."""
    return DPIDMDelta(**{**config.delta, **settings, "base": base, "unet": unet_structure(config.main_unet)})
