"""Training configuration: `default.yaml` (the paper's values), a user YAML on top, then `key=value` overrides.

`default.yaml` is the one place defaults live; the dataclasses below only give them names and types. A key that
`default.yaml` lacks is an error naming it, so a typo is never a silently ignored setting.
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


_SECTIONS = {"data": DataConfig, "augment": AugmentConfig, "train": OptimConfig, "loss": LossConfig,
             "checkpoint": CheckpointConfig, "logging": LoggingConfig, "validation": ValidationConfig}


def load_config(path: Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """The defaults of `default.yaml`, then the YAML at `path`, then each `key=value` override, in that order."""
    values = _read_yaml(DEFAULT_CONFIG)
    if path:
        _merge(values, _read_yaml(Path(path)), "")
    for item in overrides:
        _merge(values, _override_dict(item), "")
    return _build(TrainConfig, values)


def config_yaml(config: TrainConfig) -> str:
    """The full configuration as YAML, loadable with `--config` (written beside the run and into checkpoints)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
