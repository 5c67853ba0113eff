"""`dpidm train`: the single-stage image-video joint training of section 3.6, on one process or many (accelerate).

Reads top to bottom: build the data, the model and the optimiser; resume if asked; then for every step pick the
phase (image or video), make exactly that phase's parameters trainable, run the micro-batches, average the
gradients over the processes, step, log, checkpoint.

Why gradients are averaged by hand rather than by wrapping the model in DDP: the trainable set changes every step
(image steps train PASA, CA, the pose encoder and adapters; video steps TSA and PATA), and DDP fixes the set of
parameters it reduces when it is built. One flattened all-reduce of the current phase's gradients per optimiser
step is DDP's arithmetic (a mean over processes) without that restriction, and without DDP's unused-parameter scan.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from tryon_cli.data import VIDEO_LAYOUTS, scan
from tryon_cli.data.dataset import Augmentation, TryOnDataset
from tryon_cli.data.sampler import JointSampler
from tryon_cli.errors import DpidmError, InputError
from tryon_cli.models import DPIDM
from tryon_cli.models.dpidm import TINY_BASE_SEED
from tryon_cli.training import checkpoint as ckpt
from tryon_cli.training.config import TrainConfig, config_yaml
from tryon_cli.training.objective import diffusion_losses


class NonFiniteLoss(DpidmError):
    """The loss became NaN or infinite; the run stopped without writing the bad state."""


@dataclass
class StepRecord:
    step: int
    phase: str
    loss: float
    mse: float
    tra: float
    lr: float
    samples_per_s: float
    seconds: float


def build_model(config: TrainConfig) -> DPIDM:
    if config.model == "tiny":
        model = DPIDM.from_config("tiny", seed=TINY_BASE_SEED)
        if config.init_checkpoint:
            model.load_checkpoint(config.init_checkpoint)
        return model
    if config.model == "sd15":
        return DPIDM.from_pretrained(config.weights, checkpoint=config.init_checkpoint)
    raise InputError(f"unknown model {config.model!r}: choose sd15 or tiny")


def make_optimizer(config: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """Adam as in the paper; `adam_fused` (one CUDA kernel for all tensors) or `adam8bit` (bitsandbytes: 8-bit
    moments, about 75% less optimiser memory) where memory is short."""
    opt = config.train
    kwargs = dict(lr=opt.learning_rate, betas=(opt.adam_beta1, opt.adam_beta2), eps=opt.adam_epsilon,
                  weight_decay=opt.weight_decay)
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


def step_seeds(seed: int, step: int, rank: int) -> tuple[int, int]:
    """Seeds of one step of one process, (global torch RNG, noise generator): everything random in a step depends
    on its number only, so a resumed run draws exactly what an uninterrupted one would."""
    first, second = np.random.SeedSequence([seed, step, rank]).generate_state(2)
    return int(first), int(second)


def _average_gradients(accelerator: Accelerator, params: list[torch.nn.Parameter]) -> None:
    grads = [p.grad for p in params if p.grad is not None]
    if accelerator.num_processes == 1 or not grads:
        return
    flat = accelerator.reduce(torch.cat([g.flatten() for g in grads]), reduction="mean")
    for grad, part in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(part.view_as(grad))


def _fingerprint(params: list[torch.nn.Parameter]) -> float:
    """A float64 checksum of the trainable weights; replicas that stayed in sync give identical values."""
    return float(sum(p.detach().double().sum() + p.detach().double().abs().sum() for p in params))


class _StopRequest:
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


def _trim_metrics(path: Path, last_step: int) -> None:
    """Drop metric lines after `last_step` (a run killed after its last checkpoint logged steps that resume redoes)."""
    if path.is_file():
        lines = [l for l in path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= last_step]
        path.write_text("".join(l + "\n" for l in lines))


def train(
    config: TrainConfig,
    output: Path,
    resume: Path | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    model: DPIDM | None = None,
) -> Path:
    """Train; returns the last checkpoint folder. `resume`: a checkpoint folder or a run's output folder.
    `model`: train this model instead of building `config.model` (it is trained in place)."""
    output = Path(output)
    accelerator = Accelerator(mixed_precision=config.train.mixed_precision)
    rank, world, main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    seed, opt = config.train.seed, config.train
    if config.data.root is None:
        raise InputError("no dataset root: pass --root DIR (or data.root in the config)")
    found = ckpt.find_checkpoint(resume) if resume is not None else None  # fail before the slow set-up

    # -- data ------------------------------------------------------------------------------------------------
    root = Path(config.data.root)
    dataset = TryOnDataset(
        scan(config.data.name, root, config.data.split), root, config.data.height, config.data.width,
        Augmentation(config.augment.flip_p, config.augment.keypoint_drop_p),
    )
    sampler = JointSampler(
        dataset.frame_counts, opt.batch_size, config.data.clip_length, seed,
        garment_dropout=config.augment.garment_dropout, video_steps=config.data.name in VIDEO_LAYOUTS, rank=rank,
    )

    # -- model, optimiser ------------------------------------------------------------------------------------
    model = (model if model is not None else build_model(config)).to(accelerator.device)
    if accelerator.mixed_precision in ("fp16", "bf16"):  # frozen parts in half precision; trained weights stay fp32
        half = torch.float16 if accelerator.mixed_precision == "fp16" else torch.bfloat16
        for frozen in (model.vae, model.image_encoder, model.garment_unet):
            frozen.to(half)
    if opt.gradient_checkpointing:
        model.main_unet.unet.enable_gradient_checkpointing()
    params = list(model.checkpoint_parameters().values())
    optimizer = make_optimizer(config, params)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, opt.warmup_steps)))
    optimizer = accelerator.prepare(optimizer)  # adds the fp16 grad scaler; the model stays unwrapped (see top)
    model.train()

    # -- resume ----------------------------------------------------------------------------------------------
    checkpoints = output / "checkpoints"
    start = 0
    rng_to_restore = None
    if found is not None:
        model.load_checkpoint(found)
        state, rng_to_restore = ckpt.read_trainer_state(found, rank)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if accelerator.scaler is not None and state.get("scaler"):
            accelerator.scaler.load_state_dict(state["scaler"])
        start = state["step"]
        if main:
            print(f"resuming from {found} at step {start}")
    if main:
        checkpoints.mkdir(parents=True, exist_ok=True)
        (output / "training.yaml").write_text(config_yaml(config))
        _trim_metrics(output / "metrics.jsonl", start)

    loader = DataLoader(
        dataset, batch_sampler=sampler.batches(start, opt.max_steps, opt.gradient_accumulation),
        num_workers=config.data.num_workers, pin_memory=accelerator.device.type == "cuda",
    )
    batches = iter(loader)
    if rng_to_restore is not None:  # after the loader drew its worker seeds, as in the run that wrote it
        ckpt.set_rng_state(rng_to_restore)

    writer = None
    if main and config.logging.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(output / "tensorboard"))
    metrics = open(output / "metrics.jsonl", "a") if main else None

    def save(step: int) -> Path:
        fingerprints = accelerator.gather(torch.tensor([_fingerprint(params)], dtype=torch.float64, device=accelerator.device))
        state = {
            "step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
            "data_position": {"sampler": "joint", "seed": seed, "next_step": step, "world_size": world},
            "replica_fingerprints": fingerprints.cpu().tolist(),
        }
        if len(set(state["replica_fingerprints"])) > 1:
            raise DpidmError(f"replicas diverged at step {step}: weight checksums {state['replica_fingerprints']}")
        return ckpt.write_checkpoint(
            checkpoints, step, model.save_checkpoint, state,
            {"training.yaml": config_yaml(config)},
            rank=rank, barrier=accelerator.wait_for_everyone, keep=config.checkpoint.keep,
        )

    last = found
    try:
        with _StopRequest() as stop:
            for step in range(start, opt.max_steps):
                began = time.perf_counter()
                phase = sampler.phase(step)
                model.set_trainable(phase)
                trained = [p for p in params if p.requires_grad]
                global_seed, noise_seed = step_seeds(seed, step, rank)
                torch.manual_seed(global_seed)  # VAE posterior sampling, dropout
                generator = torch.Generator().manual_seed(noise_seed)  # diffusion noise and timesteps
                totals = {"loss": 0.0, "mse": 0.0, "tra": 0.0}
                for _ in range(opt.gradient_accumulation):
                    batch = next(batches)
                    with accelerator.autocast():
                        losses = diffusion_losses(model, batch, phase, config.loss, generator)
                    finite = accelerator.reduce(torch.isfinite(losses["loss"].detach()).float().reshape(1), "sum")
                    if float(finite) < world:
                        raise NonFiniteLoss(
                            f"non-finite loss at step {step + 1} ({phase} step); stopped, the last good checkpoint "
                            f"is {last or 'none (no checkpoint written yet)'}"
                        )
                    accelerator.backward(losses["loss"] / opt.gradient_accumulation)
                    for name in totals:
                        totals[name] += float(losses[name].detach()) / opt.gradient_accumulation
                _average_gradients(accelerator, trained)
                if opt.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(trained, opt.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)

                done = step + 1
                mean = accelerator.reduce(torch.tensor([totals[k] for k in ("loss", "mse", "tra")], device=accelerator.device), "mean")
                seconds = time.perf_counter() - began
                record = StepRecord(
                    done, phase, *(float(v) for v in mean.cpu()), lr=scheduler.get_last_lr()[0],
                    samples_per_s=opt.batch_size * opt.gradient_accumulation * world / seconds, seconds=seconds,
                )
                if main:
                    metrics.write(json.dumps(record.__dict__) + "\n")
                    metrics.flush()
                    if writer is not None and done % config.logging.log_every == 0:
                        for key in ("loss", "mse", "tra", "lr", "samples_per_s"):
                            writer.add_scalar(f"train/{key}", getattr(record, key), done)
                        writer.add_scalar(f"train/loss_{phase}", record.loss, done)
                if config.validation.every and done % config.validation.every == 0 and main:
                    from tryon_cli.training.validation import validation_video

                    with accelerator.autocast():
                        validation_video(model, dataset, config, output / "validation" / f"{done}.mp4", writer, done)
                if on_step is not None:
                    on_step(record)
                stopping = stop.requested
                if world > 1:  # every process must agree to stop at the same step
                    stopping = bool(accelerator.reduce(torch.tensor([float(stopping)], device=accelerator.device), "sum") > 0)
                if done % config.checkpoint.every == 0 or done == opt.max_steps or stopping:
                    last = save(done)
                if stopping:
                    if main:
                        print(f"stopped on request after step {done}; resume with --resume {output}")
                    break
    finally:
        if metrics is not None:
            metrics.close()
        if writer is not None:
            writer.close()
    accelerator.end_training()
    return last
