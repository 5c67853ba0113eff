"""How much memory one training step needs, counted before any data is read, and the pre-flight that refuses a
run that cannot fit (`dpidm train`, train.memory_check).

The count runs the step's forward pass on the meta device (shapes only: no memory, no arithmetic, about a second
for tiny and ten for sd15) and adds up, with `torch.autograd.graph.saved_tensors_hooks`, every tensor autograd
keeps for the backward pass: that is the activation memory at the end of the forward, which is the step's peak
minus what backward adds (the trained parameters' gradients). Where the count cannot see the real kernel:
- Attention: PyTorch picks the math kernel for meta tensors (it keeps the full map); on the CPU and CUDA the fused
  kernels keep only q, k, v, the output and a log-sum-exp, so the count substitutes exactly that.
- Gradient checkpointing: each checkpointed segment keeps only its inputs, and recomputes its own activations in
  the backward pass one segment at a time, so the count adds the inputs plus the largest segment.
- bf16/fp16 autocast does not act on meta tensors: activations are counted at 2 bytes. Autocast keeps norms and
  softmax outputs in fp32, so this under-counts those (a few per cent of the activations at sd15).
To that come the weights (as the trainer keeps them: `half_precision_components` in half precision under mixed
precision, the rest fp32), the gradients of the phase, the two Adam moments of every trained parameter, and on
the CPU the process itself and its loader workers (measured, `CPU_PROCESS_BYTES`, `CPU_WORKER_BYTES`; see
docs/training.md for the calibration).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch.utils._pytree import tree_map

from tryon_cli.data import VIDEO_LAYOUTS
from tryon_cli.data.sampler import IMAGE, VIDEO
from tryon_cli.errors import InputError
from tryon_cli.training.config import TrainConfig
from tryon_cli.training.run_folder import usable_cpus
from tryon_cli.training.run_setup import half_precision_components

GIB = 2**30
# The dpidm training process before its first step (Python, torch, the model code, the meta model of this
# estimate, the tiny model), and one DataLoader worker without its batches, on the CPU (measured: 1.05 GiB peak RSS
# of a tiny run at 32x24 where activations are negligible; 86 MiB private memory of a worker after six batches).
CPU_PROCESS_BYTES = int(1.05 * GIB)
CPU_WORKER_BYTES = int(0.1 * GIB)
# A DataLoader worker prepares this many batches ahead (torch's prefetch_factor default), each held in memory.
PREFETCH = 2
# Float32 channels of one frame of a sample: pixels 3, mask 1, agnostic pixels 3, pose maps 3.
SAMPLE_CHANNELS = 10
# What the count does not see: allocator slack, temporaries of the backward pass (measured ratio, see the docs).
MARGIN = 1.15


@dataclass(frozen=True)
class StepMemory:
    phase: str
    weights: int
    optimizer: int
    activations: int
    process: int
    """The data batch, and on the CPU the process itself and its loader workers (measured constants)."""

    @property
    def total(self) -> int:
        return int((self.weights + self.optimizer + self.activations) * MARGIN) + self.process


class _Counter:
    def __init__(self):
        self.saved = 0
        self.segment_inputs = 0
        self.largest_segment = 0

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.saved += tensor.numel() * tensor.element_size()
        return tensor

    @property
    def total(self) -> int:
        return self.saved + self.segment_inputs + self.largest_segment


class _FusedAttention(torch.autograd.Function):
    """What a fused attention kernel keeps for backward (q, k, v, output, log-sum-exp); forward only, meta only."""

    @staticmethod
    def forward(ctx, query, key, value):
        out = query.new_empty(*query.shape[:-1], value.shape[-1])
        ctx.save_for_backward(query, key, value, out, query.new_empty(query.shape[:-1], dtype=torch.float32))
        return out

    @staticmethod
    def backward(ctx, grad):  # never run: the count stops after the forward pass
        raise NotImplementedError


class _MetaStandIns(torch.overrides.TorchFunctionMode):
    """Fused attention for SDPA; with `half`, every float32 operand cast to it first (autocast, roughly: autocast
    itself does not act on meta tensors)."""

    def __init__(self, half: torch.dtype | None):
        super().__init__()
        self.half = half

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.half is not None:
            cast = lambda t: t.to(self.half) if isinstance(t, torch.Tensor) and t.dtype == torch.float32 else t
            args, kwargs = tree_map(cast, (args, kwargs or {}))
        if func is F.scaled_dot_product_attention:
            return _FusedAttention.apply(*args[:3])
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def _counting(counter: _Counter, half: torch.dtype | None, checkpointing: bool):
    def segment(function, *args, **kwargs):
        if not checkpointing:  # the meta model always has checkpointing on (it is cached); here it is a plain call
            return function(*args)
        counter.segment_inputs += sum(a.numel() * a.element_size() for a in args if isinstance(a, torch.Tensor))
        inner = _Counter()
        with torch.autograd.graph.saved_tensors_hooks(inner.pack, lambda t: t):
            out = function(*args)
        counter.largest_segment = max(counter.largest_segment, inner.saved)
        return out

    real = torch.utils.checkpoint.checkpoint
    torch.utils.checkpoint.checkpoint = segment
    try:
        with _MetaStandIns(half), torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            yield
    finally:
        torch.utils.checkpoint.checkpoint = real


def count_activations(
    model, batch: dict, phase: str, loss, half: torch.dtype | None = None, checkpointing: bool = False
) -> int:
    """Bytes autograd keeps for the backward pass of one training forward (`diffusion_losses`) of `model` on
    `batch`, as the fused attention kernels and gradient checkpointing hold them (see the module note). Meant for
    a model and batch on the meta device; on real tensors it runs the forward for real. `checkpointing`: count the
    segments the model checkpoints (when it has checkpointing enabled) as checkpoints."""
    from tryon_cli.training.objective import diffusion_losses

    counter = _Counter()
    with _counting(counter, half, checkpointing):
        diffusion_losses(model, batch, phase, loss, torch.Generator().manual_seed(0))
    return counter.total


def meta_batch(
    batch: int, frames: int, height: int, width: int, dtype: torch.dtype = torch.float32, device: str = "meta"
) -> dict:
    """A training batch of the dataset's format and these shapes (zeros; on the meta device: shapes only)."""

    def empty(*shape, kind=dtype):
        return torch.zeros(shape, device=device, dtype=kind)

    return {
        "pixel_values": empty(batch, 3, frames, height, width),
        "mask": empty(batch, 1, frames, height, width),
        "agnostic_pixels": empty(batch, 3, frames, height, width),
        "human_pose_maps": empty(batch, 3, frames, height, width),
        "garment_pixels": empty(batch, 3, height, width),
        "garment_pose_map": empty(batch, 3, height, width),
        "drop_garment": empty(batch, kind=torch.bool),
    }


def _bytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params)


@functools.lru_cache(maxsize=2)
def _meta_model(name: str, variant: str, trains_base: bool = False):
    """The model on the meta device (shapes only), built once per process: the pre-flight tries several settings."""
    from tryon_cli.models import DPIDM

    with torch.device("meta"):
        model = DPIDM.from_config(name, variant=variant, trains_base=trains_base)
    model.enable_gradient_checkpointing()  # `count_activations(checkpointing=False)` makes the segments plain calls
    return model


def estimate(config: TrainConfig, device_type: str) -> list[StepMemory]:
    """Peak memory of one step of each phase the run will take (image, and video on a video dataset)."""
    half = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(config.train.mixed_precision)
    model = _meta_model(config.model, config.variant, config.train.trainable == "all")
    for name in half_precision_components(
        model
    ):  # as the trainer stores them; the activations are cast by `_MetaStandIns`
        part = getattr(model, name)
        if next(part.parameters()).dtype != (
            half or torch.float32
        ):  # the cached model may hold another trial's precision
            part.to(half or torch.float32)
    model.train()
    trained = model.checkpoint_parameters()
    weights = _bytes(model.parameters())
    trained_fp32 = sum(p.numel() for p in trained.values()) * 4
    workers = min(config.data.num_workers, usable_cpus())
    phases = [IMAGE, VIDEO] if config.data.name in VIDEO_LAYOUTS else [IMAGE]
    results = []
    for phase in phases:
        model.set_trainable(phase)
        frames = config.data.clip_length if phase == VIDEO else 1
        batch_bytes = config.train.batch_size * frames * config.data.height * config.data.width * SAMPLE_CHANNELS * 4
        process = batch_bytes  # the batch on the device
        if device_type == "cpu":  # and, in the same memory, the process, its workers and their batches in flight
            process += CPU_PROCESS_BYTES + workers * (CPU_WORKER_BYTES + PREFETCH * batch_bytes)
        batch = meta_batch(
            config.train.batch_size, frames, config.data.height, config.data.width, half or torch.float32
        )
        activations = count_activations(model, batch, phase, config.loss, half, config.train.gradient_checkpointing)
        gradients = sum(p.numel() for p in model.trainable_parameters(phase)) * 4
        results.append(StepMemory(phase, weights, 2 * trained_fp32 + gradients, activations, process))
    return results


def free_memory(device: torch.device) -> int:
    """Bytes free for this run: CUDA's free device memory, or the kernel's MemAvailable on the CPU."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise OSError("no MemAvailable in /proc/meminfo")


def _remedies(config: TrainConfig, device_type: str):
    """Overrides that lower the peak, cheapest in quality first, each applied on top of the previous ones."""
    if not config.train.gradient_checkpointing:
        yield "train.gradient_checkpointing=true"
    if device_type == "cuda" and config.train.mixed_precision == "no":
        yield "train.mixed_precision=bf16"
    if config.train.batch_size > 1:
        yield "train.batch_size=1"
    length = config.data.clip_length
    while length > 8:
        length = max(8, length // 2)
        yield f"data.clip_length={length}"
    height, width = config.data.height, config.data.width
    while height > 64 and width > 48:
        height, width = height // 2 // 8 * 8, width // 2 // 8 * 8
        yield f"data.height={height}", f"data.width={width}"


def _apply(config: TrainConfig, item: str) -> TrainConfig:
    section, _, rest = item.partition(".")
    key, value = rest.split("=")
    parsed = {"true": True}.get(value, value)
    parsed = int(parsed) if isinstance(parsed, str) and parsed.isdigit() else parsed
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{key: parsed})})


def preflight(config: TrainConfig, device: torch.device) -> StepMemory:
    """The largest step's memory; InputError naming the estimate, what is free and the `--set` overrides that
    would make it fit when it does not."""
    need = max(estimate(config, device.type), key=lambda m: m.total)
    free = free_memory(device)
    if need.total <= free:
        return need
    where = "the GPU" if device.type == "cuda" else "this machine"
    message = f"a {need.phase} step needs about {need.total / GIB:.1f} GiB and {where} has {free / GIB:.1f} GiB free"
    fix, trial = [], config
    for remedy in _remedies(config, device.type):
        items = (remedy,) if isinstance(remedy, str) else remedy
        for item in items:
            trial = _apply(trial, item)
        fix.extend(items)
        smaller = max(estimate(trial, device.type), key=lambda m: m.total)
        if smaller.total <= free:
            sets = " ".join(f"--set {item}" for item in fix)
            raise InputError(
                f"{message}; with {sets} it needs about {smaller.total / GIB:.1f} GiB "
                f"(or set train.memory_check=false to try anyway)"
            )
    raise InputError(f"{message}, and no smaller setting fits (or set train.memory_check=false to try anyway)")
