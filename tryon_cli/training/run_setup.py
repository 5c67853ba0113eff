"""The pieces of a training run that do not depend on the step: the model to train, its optimiser, the gradient
average over processes, the replica checksum, and the stop request of SIGTERM / Ctrl-C."""

from __future__ import annotations

import signal

import torch
from accelerate import Accelerator

from tryon_cli.errors import InputError
from tryon_cli.models import DPIDM
from tryon_cli.models.checkpoint import restore
from tryon_cli.models.dpidm import TINY_BASE_SEED
from tryon_cli.training.config import TrainConfig

# The frozen components stored in half precision under mixed precision (the main U-Net stays fp32: it holds the trained
# weights, and autocast computes in half precision anyway).
HALF_PRECISION_COMPONENTS = ("vae", "image_encoder", "garment_unet")


def half_precision_components(model: DPIDM) -> tuple[str, ...]:
    """HALF_PRECISION_COMPONENTS less the garment U-Net when it trains (`train.trainable=all`)."""
    trains_base = model.delta.config.trains_base
    return tuple(c for c in HALF_PRECISION_COMPONENTS if not (trains_base and c == "garment_unet"))


def prepare_for_training(model: DPIDM, config: TrainConfig) -> list[torch.nn.Parameter]:
    """Store `model` as the trainer trains it, and return the parameters its optimiser takes (DPIDM's trained ones):
    under mixed precision the frozen components in half precision (`half_precision_components`), gradient
    checkpointing as configured."""
    if config.train.mixed_precision in ("fp16", "bf16"):  # frozen components in half precision; trained stay fp32
        half = torch.float16 if config.train.mixed_precision == "fp16" else torch.bfloat16
        for component in half_precision_components(model):
            getattr(model, component).to(half)
    if config.train.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    return list(model.checkpoint_parameters().values())


def build_model(config: TrainConfig) -> DPIDM:
    """The model `config` names, of its Table 4 variant and noise schedule: tiny on the seeded frozen base `dpidm
    tryon` rebuilds, sd15 from the SD1.5 weights; `init_checkpoint` loads trained weights over it."""
    if config.model == "tiny":
        trains_base = config.train.trainable == "all"
        model = DPIDM.from_config(
            "tiny",
            seed=TINY_BASE_SEED,
            variant=config.variant,
            trains_base=trains_base,
            noise_schedule=config.noise_schedule,
        )
        if config.init_checkpoint:
            restore(model.delta, config.init_checkpoint)
        return model
    if config.model == "sd15":
        return DPIDM.from_pretrained(config.weights, checkpoint=config.init_checkpoint, variant=config.variant)
    raise InputError(f"unknown model {config.model!r}: choose sd15 or tiny")


def make_optimizer(config: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Adam as in the paper; `adam_fused` (one CUDA kernel for all tensors) or `adam8bit` (bitsandbytes: 8-bit
    moments, about 75% less optimiser memory) where memory is short."""
    opt = config.train
    kwargs = dict(
        lr=opt.learning_rate,
        betas=(opt.adam_beta1, opt.adam_beta2),
        eps=opt.adam_epsilon,
        weight_decay=opt.weight_decay,
    )
    if opt.optimizer == "adam":
        return torch.optim.Adam(params, **kwargs)
    if opt.optimizer == "adam_fused":
        return torch.optim.Adam(params, fused=True, **kwargs)
    if opt.optimizer == "adam8bit":
        try:
            import bitsandbytes
        except ImportError:
            raise InputError("train.optimizer=adam8bit needs bitsandbytes: pip install bitsandbytes") from None
        return bitsandbytes.optim.Adam8bit(params, **kwargs)
    raise InputError(f"unknown train.optimizer {opt.optimizer!r}: choose adam, adam_fused or adam8bit")


def average_gradients(accelerator: Accelerator, params: list[torch.nn.Parameter]) -> None:
    grads = [p.grad for p in params if p.grad is not None]
    if accelerator.num_processes == 1 or not grads:
        return
    flat = accelerator.reduce(torch.cat([g.flatten() for g in grads]), reduction="mean")
    for grad, part in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(part.view_as(grad))


def fingerprint(params: list[torch.nn.Parameter]) -> float:
    """A float64 checksum of the trainable weights; replicas that stayed in sync give identical values."""
    return float(sum(p.detach().double().sum() + p.detach().double().abs().sum() for p in params))


class StopRequest:
    """SIGTERM or Ctrl-C sets a flag; the loop finishes its step, writes a checkpoint and returns."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C: the user really wants out now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
