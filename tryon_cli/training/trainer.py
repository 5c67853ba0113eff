"""`dpidm train`: the single-stage image-video joint training of section 3.6, on one process or many (accelerate).

`train` reads top to bottom: check the request (output folder, memory), set up the data, the model and the
optimiser, resume if asked, then for every step pick the phase (image or video), make exactly that phase's
parameters trainable, run the micro-batches, average the gradients over the processes, step, log, validate,
checkpoint. Each of those is one function below.

Why gradients are averaged by hand rather than by wrapping the model in DDP: the trainable set changes every step
(image steps train PASA, CA, the pose encoder and adapters; video steps TSA and PATA), and DDP fixes the set of
parameters it reduces when it is built. One flattened all-reduce of the current phase's gradients per optimiser
step is DDP's arithmetic (a mean over processes) without that restriction, and without DDP's unused-parameter scan.
"""

from __future__ import annotations

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
from tryon_cli.data.prepare import pose_facts, unprepared
from tryon_cli.data.sampler import JointSampler
from tryon_cli.errors import DpidmError, InputError
from tryon_cli.models import DPIDM
from tryon_cli.models.checkpoint import restore
from tryon_cli.training import checkpoint as ckpt
from tryon_cli.training.config import TrainConfig, config_yaml
from tryon_cli.training.memory import preflight
from tryon_cli.training.objective import diffusion_losses
from tryon_cli.training.run_folder import RunLog, StepRecord, check_output, usable_cpus
from tryon_cli.training.run_setup import (
    StopRequest,
    average_gradients,
    build_model,
    fingerprint,
    make_optimizer,
    prepare_for_training,
)


class NonFiniteLoss(DpidmError):
    """The loss became NaN or infinite; the run stopped without writing the bad state."""


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path | None
    """The last checkpoint written (or resumed from); None when no step ran and none existed."""
    stopped: bool
    """True when SIGTERM or Ctrl-C ended the run early (its checkpoint is `checkpoint`)."""


def step_seeds(seed: int, step: int, rank: int) -> tuple[int, int]:
    """Seeds of one step of one process, (global torch RNG, noise generator): everything random in a step depends
    on its number only, so a resumed run draws exactly what an uninterrupted one would."""
    first, second = np.random.SeedSequence([seed, step, rank]).generate_state(2)
    return int(first), int(second)


@dataclass
class _Run:
    """Everything a step needs, made once by `_set_up`."""

    config: TrainConfig
    output: Path
    accelerator: Accelerator
    dataset: TryOnDataset
    sampler: JointSampler
    model: DPIDM
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process


def _set_up(config: TrainConfig, output: Path, accelerator: Accelerator, model: DPIDM | None) -> _Run:
    opt = config.train
    root = Path(config.data.root)
    dataset = TryOnDataset(
        scan(config.data.name, root, config.data.split),
        root,
        config.data.height,
        config.data.width,
        Augmentation(config.augment.flip_p, config.augment.keypoint_drop_p),
        config.data.masks,
    )
    sampler = JointSampler(
        dataset.frame_counts,
        opt.batch_size,
        config.data.clip_length,
        opt.seed,
        garment_dropout=config.augment.garment_dropout,
        video_steps=config.data.name in VIDEO_LAYOUTS,
        rank=accelerator.process_index,
    )
    model = (model if model is not None else build_model(config)).to(accelerator.device)
    params = prepare_for_training(model, config)  # Accelerator's mixed precision is the config's
    optimizer = make_optimizer(config, params)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, opt.warmup_steps)))
    optimizer = accelerator.prepare(optimizer)  # adds the fp16 grad scaler; the model stays unwrapped (see top)
    model.train()
    return _Run(config, output, accelerator, dataset, sampler, model, params, optimizer, scheduler)


def _resume(run: _Run, found: Path) -> tuple[int, dict]:
    """Load a checkpoint's weights and training state; (its step, this process's RNG state to restore)."""
    restore(run.model.delta, found)
    state, rng = ckpt.read_trainer_state(found, run.accelerator.process_index)
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.accelerator.scaler is not None and state.get("scaler"):
        run.accelerator.scaler.load_state_dict(state["scaler"])
    if run.main:
        print(f"resuming from {found} at step {state['step']}")
    return state["step"], rng


def _batches(run: _Run, start: int, rng: dict | None):
    workers = min(run.config.data.num_workers, usable_cpus())
    loader = DataLoader(
        run.dataset,
        batch_sampler=run.sampler.batches(start, run.config.train.max_steps, run.config.train.gradient_accumulation),
        num_workers=workers,
        pin_memory=run.accelerator.device.type == "cuda",
    )
    batches = iter(loader)
    if rng is not None:  # after the loader drew its worker seeds, as in the run that wrote it
        ckpt.set_rng_state(rng)
    return batches


def _step(run: _Run, step: int, batches, last: Path | None) -> StepRecord:
    """One optimiser step of the step's phase: micro-batches, gradient average, clip, Adam."""
    accelerator, opt, world = run.accelerator, run.config.train, run.accelerator.num_processes
    began = time.perf_counter()
    phase = run.sampler.phase(step)
    run.model.set_trainable(phase)
    trained = [p for p in run.params if p.requires_grad]
    global_seed, noise_seed = step_seeds(opt.seed, step, accelerator.process_index)
    torch.manual_seed(global_seed)  # VAE posterior sampling, dropout
    generator = torch.Generator().manual_seed(noise_seed)  # diffusion noise and timesteps
    totals = {"loss": 0.0, "mse": 0.0, "tra": 0.0}
    for _ in range(opt.gradient_accumulation):
        with accelerator.autocast():
            losses = diffusion_losses(run.model, next(batches), phase, run.config.loss, generator)
        finite = accelerator.reduce(torch.isfinite(losses["loss"].detach()).float().reshape(1), "sum")
        if float(finite) < world:
            raise NonFiniteLoss(
                f"non-finite loss at step {step + 1} ({phase} step); stopped, the last good checkpoint "
                f"is {last or 'none (no checkpoint written yet)'}"
            )
        accelerator.backward(losses["loss"] / opt.gradient_accumulation)
        for name in totals:
            totals[name] += float(losses[name].detach()) / opt.gradient_accumulation
    average_gradients(accelerator, trained)
    if opt.max_grad_norm > 0:
        accelerator.clip_grad_norm_(trained, opt.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    mean = accelerator.reduce(
        torch.tensor([totals[k] for k in ("loss", "mse", "tra")], device=accelerator.device), "mean"
    )
    seconds = time.perf_counter() - began
    return StepRecord(
        step + 1,
        phase,
        *(float(v) for v in mean.cpu()),
        lr=run.scheduler.get_last_lr()[0],
        samples_per_s=opt.batch_size * opt.gradient_accumulation * world / seconds,
        seconds=seconds,
    )


def _validate(run: _Run, done: int, log: RunLog) -> None:
    every = run.config.validation.every
    if not (every and done % every == 0 and run.main):
        return
    from tryon_cli.training.validation import validation_video

    with run.accelerator.autocast():
        validation_video(
            run.model, run.dataset, run.config, run.output / "validation" / f"{done}.mp4", log.writer, done
        )


def _agree_to_stop(run: _Run, requested: bool) -> bool:
    """Every process must stop at the same step: one request anywhere stops them all."""
    if run.accelerator.num_processes == 1:
        return requested
    flag = torch.tensor([float(requested)], device=run.accelerator.device)
    return bool(run.accelerator.reduce(flag, "sum") > 0)


def _save(run: _Run, step: int) -> Path:
    accelerator = run.accelerator
    checksum = torch.tensor([fingerprint(run.params)], dtype=torch.float64, device=accelerator.device)
    fingerprints = accelerator.gather(checksum).cpu().tolist()
    if len(set(fingerprints)) > 1:
        raise DpidmError(f"replicas diverged at step {step}: weight checksums {fingerprints}")
    state = {
        "step": step,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
        "data_position": {
            "sampler": "joint",
            "seed": run.config.train.seed,
            "next_step": step,
            "world_size": accelerator.num_processes,
        },
        "replica_fingerprints": fingerprints,
    }
    data = run.config.data
    pose_backend, pose_keypoints = pose_facts(run.dataset.entries, run.dataset.root)

    def save_weights(folder: Path) -> None:  # the delta's config.json records what it was trained on
        run.model.delta.save_checkpoint(
            folder,
            train_height=data.height,
            train_width=data.width,
            clip_length=data.clip_length,
            mask_source=data.masks,
            pose_backend=pose_backend,
            pose_keypoints=pose_keypoints,
        )

    return ckpt.write_checkpoint(
        run.output / "checkpoints",
        step,
        save_weights,
        state,
        {"training.yaml": config_yaml(run.config)},
        rank=accelerator.process_index,
        barrier=accelerator.wait_for_everyone,
        keep=run.config.checkpoint.keep,
    )


def train(
    config: TrainConfig,
    output: Path,
    resume: bool = False,
    on_step: Callable[[StepRecord], None] | None = None,
    model: DPIDM | None = None,
    on_start: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train into `output`; `resume`: continue its latest checkpoint. `model`: train this model instead of building
    `config.model` (it is trained in place). `on_start(first_step)` is called once the checks and the set-up are
    done, `on_step` after every step."""
    output = Path(output)
    if config.data.root is None:
        raise InputError("no dataset root: pass --root DIR (or data.root in the config)")
    check_output(output, resume)
    found = ckpt.find_checkpoint(output) if resume else None  # fail before the slow set-up
    # A wrong root or an unprepared dataset: one line, before the estimate and before the run folder is written.
    entries = scan(config.data.name, Path(config.data.root), config.data.split)
    missing = unprepared(config.data.name, Path(config.data.root), entries, config.data.masks)
    if missing:
        raise InputError(missing)
    accelerator = Accelerator(mixed_precision=config.train.mixed_precision)
    if config.train.memory_check:
        preflight(config, accelerator.device)

    run = _set_up(config, output, accelerator, model)
    start, rng = _resume(run, found) if found is not None else (0, None)
    if run.main:
        (output / "checkpoints").mkdir(parents=True, exist_ok=True)
        (output / "training.yaml").write_text(config_yaml(config))
    batches = _batches(run, start, rng)
    if on_start is not None:
        on_start(start)

    last, stopping = found, False
    log = RunLog(output, start, config.logging.tensorboard, config.logging.log_every, run.main)
    try:
        with StopRequest() as stop:
            for step in range(start, config.train.max_steps):
                record = _step(run, step, batches, last)
                log.write(record)
                _validate(run, record.step, log)
                if on_step is not None:
                    on_step(record)
                stopping = _agree_to_stop(run, stop.requested)
                if record.step % config.checkpoint.every == 0 or record.step == config.train.max_steps or stopping:
                    last = _save(run, record.step)
                if stopping:
                    break
    finally:
        log.close()
    accelerator.end_training()
    return TrainResult(last, stopping)
