"""Training configuration: `default.yaml` (the paper's values), the chosen model's `model_defaults` (the tiny
model's CPU-sized clips), a user YAML on top, then `key=value` overrides.

`default.yaml` is the one place defaults live; the dataclasses below only give them names and types. A key that
`default.yaml` lacks is an error naming it, so a typo is never a silently ignored setting; a value out of range
is an error naming the key too (`check`), before any data or model is touched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from tryon_cli.errors import InputError

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")


@dataclass
class DataConfig:
    name: str
    root: Optional[str]
    split: str
    height: int
    width: int
    clip_length: int
    masks: str
    num_workers: int


@dataclass
class AugmentConfig:
    flip_p: float
    keypoint_drop_p: float
    garment_dropout: float


@dataclass
class OptimConfig:
    batch_size: int
    max_steps: int
    learning_rate: float
    trainable: str
    optimizer: str
    adam_beta1: float
    adam_beta2: float
    adam_epsilon: float
    weight_decay: float
    warmup_steps: int
    max_grad_norm: float
    gradient_accumulation: int
    mixed_precision: str
    gradient_checkpointing: bool
    seed: int
    memory_check: bool


@dataclass
class LossConfig:
    tra_weight_video: float
    tra_weight_image: float
    tra_gammas: list


@dataclass
class CheckpointConfig:
    every: int
    keep: int


@dataclass
class LoggingConfig:
    tensorboard: bool
    log_every: int


@dataclass
class ValidationConfig:
    every: int
    frames: int
    inference_steps: int
    guidance_scale: float


@dataclass
class TrainConfig:
    model: str
    variant: str
    noise_schedule: str
    weights: Optional[str]
    init_checkpoint: Optional[str]
    data: DataConfig
    augment: AugmentConfig
    train: OptimConfig
    loss: LossConfig
    checkpoint: CheckpointConfig
    logging: LoggingConfig
    validation: ValidationConfig

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _merge(base: dict, values: dict, where: str) -> None:
    """Set `values` onto `base` in place, recursing into sections; keys `base` lacks are errors."""
    for name, value in values.items():
        if name not in base:
            raise InputError(f"unknown config key {where}{name} (known: {', '.join(base)})")
        if isinstance(base[name], dict):
            if not isinstance(value, dict):
                raise InputError(f"config key {where}{name} is a section; give it keys, not {value!r}")
            _merge(base[name], value, f"{where}{name}.")
        else:
            base[name] = _coerce(value, base[name], f"{where}{name}")


def _coerce(value: Any, current: Any, name: str) -> Any:
    """The value in the type of the default (YAML reads `1e-5` as a string and `1` where a float is meant)."""
    if value is None or current is None or isinstance(current, list):
        return value
    kind = type(current)
    try:
        if kind is bool and not isinstance(value, bool):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise InputError(f"config key {name} wants a {kind.__name__}, got {value!r}") from None


def _override_dict(item: str) -> dict:
    """`a.b.c=value` -> {"a": {"b": {"c": value}}}, the value parsed as YAML."""
    if "=" not in item:
        raise InputError(f"override {item!r} is not KEY=VALUE (e.g. train.learning_rate=1e-5)")
    key, raw = item.split("=", 1)
    value: Any = yaml.safe_load(raw) if raw else None
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise InputError(f"cannot parse {path}: {str(err).splitlines()[0]}") from None


def _build(cls, values: dict):
    """The dataclass `cls` from a (complete) dict, sections becoming their own dataclasses."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        kind = _SECTIONS.get(f.name) if cls is TrainConfig else None
        kwargs[f.name] = _build(kind, values[f.name]) if kind else values[f.name]
    return cls(**kwargs)


_SECTIONS = {
    "data": DataConfig,
    "augment": AugmentConfig,
    "train": OptimConfig,
    "loss": LossConfig,
    "checkpoint": CheckpointConfig,
    "logging": LoggingConfig,
    "validation": ValidationConfig,
}


MODELS = ("sd15", "tiny")
MASK_SOURCES = ("dpidm", "dataset")
TRAINABLE = ("paper", "all")
"""train.trainable: the paper's set (DPIDM's modules and the attention layers) or, for the tiny model, all of both
U-Nets (`DPIDMDelta.trains_base`)."""
VARIANTS = ("a", "b", "c", "d")
NOISE_SCHEDULES = ("sd15", "zero_snr_v")
"""noise_schedule: the keys of `models.configs.NOISE_SCHEDULES`, named here so that reading a config imports
no torch."""


def load_config(path: Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """The defaults of `default.yaml`, the model's `model_defaults`, the YAML at `path`, then each `key=value`
    override, in that order; range-checked."""
    values = _read_yaml(DEFAULT_CONFIG)
    presets = values.pop("model_defaults")
    layers = [_read_yaml(Path(path)) if path else {}, *(_override_dict(item) for item in overrides)]
    model = next((layer["model"] for layer in reversed(layers) if "model" in layer), values["model"])
    for layer in (presets.get(model, {}), *layers):
        _merge(values, layer, "")
    config = _build(TrainConfig, values)
    check(config)
    return config


def _require(ok: bool, key: str, rule: str, value) -> None:
    if not ok:
        raise InputError(f"{key} must be {rule}, got {value!r}")


def check(config: TrainConfig) -> None:
    """Every setting in its range (one InputError line naming the key), so a bad value never starts a run."""
    data, opt = config.data, config.train
    _require(config.model in MODELS, "model", " or ".join(MODELS), config.model)
    _require(config.variant in VARIANTS, "variant", "one of " + ", ".join(VARIANTS), config.variant)
    _require(
        config.noise_schedule in NOISE_SCHEDULES, "noise_schedule", " or ".join(NOISE_SCHEDULES), config.noise_schedule
    )
    # SD1.5's pretrained U-Nets predict epsilon on its schedule; the paper fine-tunes only attention on top of that.
    _require(
        config.noise_schedule == "sd15" or config.model == "tiny",
        "noise_schedule",
        "sd15 with --model sd15",
        config.noise_schedule,
    )
    for key in ("height", "width"):
        value = getattr(data, key)
        _require(value > 0 and value % 8 == 0, f"data.{key}", "a positive multiple of 8 (the VAE factor)", value)
    _require(data.clip_length >= 2, "data.clip_length", "at least 2 (a video step compares frames)", data.clip_length)
    _require(data.masks in MASK_SOURCES, "data.masks", " or ".join(MASK_SOURCES), data.masks)
    _require(data.num_workers >= 0, "data.num_workers", "0 or more", data.num_workers)
    for key in ("batch_size", "max_steps", "gradient_accumulation"):
        _require(getattr(opt, key) >= 1, f"train.{key}", "at least 1", getattr(opt, key))
    _require(opt.learning_rate > 0, "train.learning_rate", "positive", opt.learning_rate)
    _require(opt.trainable in TRAINABLE, "train.trainable", " or ".join(TRAINABLE), opt.trainable)
    # The whole base trains only where it is random (tiny): SD1.5's pretrained base stays frozen, as in the paper.
    _require(
        opt.trainable == "paper" or config.model == "tiny", "train.trainable", "paper with --model sd15", opt.trainable
    )
    _require(
        opt.mixed_precision in ("no", "fp16", "bf16"), "train.mixed_precision", "no, fp16 or bf16", opt.mixed_precision
    )
    _require(opt.max_grad_norm >= 0, "train.max_grad_norm", "0 (off) or positive", opt.max_grad_norm)
    _require(config.checkpoint.every >= 1, "checkpoint.every", "at least 1", config.checkpoint.every)
    _require(config.checkpoint.keep >= 0, "checkpoint.keep", "0 (all) or more", config.checkpoint.keep)
    for key in ("flip_p", "keypoint_drop_p", "garment_dropout"):
        value = getattr(config.augment, key)
        _require(0 <= value <= 1, f"augment.{key}", "a probability in [0, 1]", value)


def config_yaml(config: TrainConfig) -> str:
    """The full configuration as YAML, loadable with `--config` (written beside the run and into checkpoints)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
