"""The evaluation behind `dpidm eval`: pair the inputs, load the networks whose weights exist, compute the metrics.

Which items each metric sees:
- paired metrics (SSIM, LPIPS) compare each prediction with its ground truth frame by frame: a mean per video
  over its frames, and overall the mean over videos (a single image is a one-frame video). Where the two differ
  in frame count the longer is truncated to the shorter; where they differ in size the prediction is resized to
  the ground truth's size (bilinear, antialiased). Both are said once, in `notes`.
- distribution metrics (FID, KID, VFID) compare the set of predictions with the set of ground truths, so they need
  no pairing and no truncation: every item of each folder, or with `--pairs` the items the pairs file names. FID
  and KID use every frame; VFID the clips its protocol takes.

Missing weights: a metric the user asked for by name stops the run before anything is computed (one line naming
the file); a metric of the default set is skipped and reported with the reason.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import numpy as np
import torch

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.metrics.frames import frames_to_tensor
from tryon_cli.metrics.frechet import fid
from tryon_cli.metrics.i3d import load_i3d
from tryon_cli.metrics.inception import find_inception, inception_input, load_inception
from tryon_cli.metrics.inputs import Item, detect_mode, list_items, pair_items
from tryon_cli.metrics.kid import kid
from tryon_cli.metrics.loading import sha256_of
from tryon_cli.metrics.lpips import NETS, load_lpips
from tryon_cli.metrics.names import DEFAULT_METRICS, METRICS, PROTOCOLS
from tryon_cli.metrics.resnext3d import load_resnext
from tryon_cli.metrics.ssim import ssim
from tryon_cli.metrics.vfid import CLIP_LENGTH, clip_tensor, clips
from tryon_cli.weights import require

PAIRED = ("ssim", "lpips")
VIDEO_ONLY = ("vfid_i3d", "vfid_resnext")
KID_SCALE = 1000  # try-on tables print KID x 1000
_PAIR_BATCH, _FRAME_BATCH, _CLIP_BATCH = 4, 16, 4

TaskFactory = Callable[[str, int], AbstractContextManager]
"""`task(description, total)`: a context manager yielding `advance()`, e.g. a progress bar."""


@dataclass
class MetricResult:
    metric: str
    value: float
    protocol: str
    videos: dict[str, int]
    """Items per side: {"pred": n, "gt": m} (videos, or images in image mode)."""
    frames: dict[str, int]
    """Frames per side that went into the value (after truncation; for VFID the frames inside clips)."""
    weights: list[dict[str, str]] = field(default_factory=list)
    """[{"file": path, "sha256": hex}] of each weight file used; empty for SSIM."""
    per_video: dict[str, float] = field(default_factory=dict)
    """Paired metrics only: prediction name -> mean over its frames."""
    samples: dict[str, int] = field(default_factory=dict)
    """Distribution metrics only: feature vectors per side (frames for FID/KID, clips for VFID)."""


@dataclass
class EvalReport:
    mode: str
    results: list[MetricResult]
    skipped: dict[str, str]
    """metric -> why it did not run."""
    notes: list[str]
    """Truncations, resizes and other adjustments, each said once."""

    def to_json(self) -> str:
        metrics = {r.metric: {k: v for k, v in asdict(r).items() if k != "metric"} for r in self.results}
        return json.dumps({"mode": self.mode, "metrics": metrics, "skipped": self.skipped, "notes": self.notes},
                          indent=2)


@dataclass
class _Networks:
    """The networks a run needs (None where a metric that uses it does not run)."""

    lpips: Optional[torch.nn.Module] = None
    inception: Optional[torch.nn.Module] = None
    i3d: Optional[torch.nn.Module] = None
    resnext: Optional[torch.nn.Module] = None


def parse_metrics(text: Optional[str], mode: str) -> tuple[tuple[str, ...], bool]:
    """(metrics, explicit) from a comma-separated list; None gives the mode's default set."""
    if text is None:
        return DEFAULT_METRICS[mode], False
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise InputError(f"unknown metric {unknown[0] if unknown else text!r}; choose from {', '.join(METRICS)}")
    if mode == "image" and any(n in VIDEO_ONLY for n in names):
        raise InputError(f"{', '.join(n for n in names if n in VIDEO_ONLY)} needs videos, but the inputs are images "
                         f"(--mode image)")
    return names, True


def _weight_files(metric: str, lpips_net: str, root: Optional[Path]) -> list[Path]:
    """The weight files `metric` needs, or MissingWeightsError naming the first missing one."""
    if metric == "ssim":
        return []
    if metric == "lpips":
        return [require(f"lpips-{lpips_net}", root)]
    if metric in ("fid", "kid"):
        return [find_inception(root)]
    return [require("i3d" if metric == "vfid_i3d" else "resnext101", root)]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _silent_task(description: str, total: int) -> AbstractContextManager:
    return nullcontext(lambda *args, **kwargs: None)


def _batched(values: Iterable, size: int) -> Iterator[list]:
    batch = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _weights_record(files: Iterable[Path], hashes: dict[Path, str]) -> list[dict[str, str]]:
    for path in files:
        hashes.setdefault(path, sha256_of(path))
    return [{"file": str(path), "sha256": hashes[path]} for path in files]


def _paired(pairs: list[tuple[Item, Item]], metrics: tuple[str, ...], nets: _Networks, device: torch.device,
            max_frames: Optional[int], task: TaskFactory, notes: list[str]) -> dict[str, tuple[dict[str, float], int]]:
    """Per metric: (prediction name -> mean over frames, total frames compared)."""
    per_video = {m: {} for m in metrics}
    total_frames = 0
    truncated, resized = [], []
    with task("SSIM/LPIPS per frame pair", len(pairs)) as advance:
        for pred, gt in pairs:
            scores = {m: [] for m in metrics}
            pred_frames, gt_frames = pred.frames(max_frames), gt.frames(max_frames)
            for batch in _batched(_zip_frames(pred_frames, gt_frames, pred.name, truncated), _PAIR_BATCH):
                target = frames_to_tensor([g for _, g in batch])
                if any(p.shape != g.shape for p, g in batch) and pred.name not in resized:
                    resized.append(pred.name)
                output = frames_to_tensor([p for p, _ in batch], tuple(target.shape[-2:]))
                if "ssim" in scores:
                    scores["ssim"] += ssim(output.to(device), target.to(device)).tolist()
                if "lpips" in scores:
                    scores["lpips"] += nets.lpips(output.to(device) * 2 - 1, target.to(device) * 2 - 1).tolist()
            for metric, values in scores.items():
                if not values:
                    raise InputError(f"no frames to compare between {pred.path} and {gt.path}")
                per_video[metric][pred.name] = float(np.mean(values))
            total_frames += len(next(iter(scores.values())))
            advance()
    if truncated:
        notes.append(f"frame counts differ for {len(truncated)} of {len(pairs)} pairs (e.g. {truncated[0]}): the "
                     f"longer of prediction and ground truth was truncated to the shorter for SSIM/LPIPS")
    if resized:
        notes.append(f"frame sizes differ for {len(resized)} of {len(pairs)} pairs (e.g. {resized[0]}): predictions "
                     f"were resized to the ground truth's size (bilinear, antialiased) for SSIM/LPIPS")
    return {m: (per_video[m], total_frames) for m in metrics}


def _zip_frames(a: Iterator[np.ndarray], b: Iterator[np.ndarray], name: str, truncated: list[str]):
    """Frame pairs until either sequence ends; notes `name` in `truncated` when the other had frames left."""
    try:
        while True:
            first, second = next(a, None), next(b, None)
            if first is None or second is None:
                if first is not None or second is not None:
                    truncated.append(name)
                return
            yield first, second
    finally:
        for frames in (a, b):
            getattr(frames, "close", lambda: None)()


def _item_features(item: Item, tensors: Callable[[Item], Iterator[torch.Tensor]], network: Callable,
                   batch: int, device: torch.device) -> np.ndarray:
    """`network` outputs, (n, D) float64, for every input tensor that `tensors` yields for `item`."""
    chunks = []
    for group in _batched(tensors(item), batch):
        with torch.no_grad():
            chunks.append(network(torch.stack(group).to(device)).double().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def _distribution(metric: str, sides: dict[str, list[Item]], nets: _Networks, protocol: str, device: torch.device,
                  max_frames: Optional[int], task: TaskFactory, cache: dict) -> MetricResult:
    if metric in ("fid", "kid"):
        key, label, batch = "inception", "Inception features", _FRAME_BATCH
        network = nets.inception

        def tensors(item: Item) -> Iterator[torch.Tensor]:
            return (inception_input(frame) for frame in item.frames(max_frames))
    else:
        key = metric
        label = "I3D clip features" if metric == "vfid_i3d" else "3D-ResNeXt clip features"
        batch, model = _CLIP_BATCH, nets.i3d if metric == "vfid_i3d" else nets.resnext
        network = model.features

        def tensors(item: Item) -> Iterator[torch.Tensor]:
            return (clip_tensor(clip, protocol) for clip in clips(item.frames(max_frames), protocol))

    features = {}
    for side, items in sides.items():
        with task(f"{label}: {side}", len(items)) as advance:
            for item in items:
                # Cached per item: FID and KID share one pass, and an item on both sides is computed once.
                if (key, item.path) not in cache:
                    cache[key, item.path] = _item_features(item, tensors, network, batch, device)
                advance()
        found = [cache[key, item.path] for item in items if len(cache[key, item.path])]
        features[side] = np.concatenate(found) if found else np.zeros((0, 0))
        if len(features[side]) < 2:
            unit = "frames" if key == "inception" else f"clips (protocol {protocol})"
            raise InputError(f"{metric} needs at least 2 {unit} per side, the {side} folder gives "
                             f"{len(features[side])}")
    if metric == "kid":
        value = kid(features["pred"], features["gt"]) * KID_SCALE
    else:
        value = fid(features["pred"], features["gt"])
    per_sample = 1 if key == "inception" else CLIP_LENGTH
    return MetricResult(
        metric=metric, value=value,
        protocol={"fid": "clean-fid", "kid": f"clean-fid (x{KID_SCALE})"}.get(metric, protocol),
        videos={side: len(items) for side, items in sides.items()},
        frames={side: len(features[side]) * per_sample for side in sides},
        samples={side: len(features[side]) for side in sides},
    )


def _load_networks(metrics: tuple[str, ...], files: dict[str, list[Path]], lpips_net: str,
                   device: torch.device) -> _Networks:
    nets = _Networks()
    if "lpips" in metrics:
        nets.lpips = load_lpips(files["lpips"][0], lpips_net).to(device)
    if "fid" in metrics or "kid" in metrics:
        nets.inception = load_inception(files["fid" if "fid" in metrics else "kid"][0], device)
    if "vfid_i3d" in metrics:
        nets.i3d = load_i3d(files["vfid_i3d"][0]).to(device)
    if "vfid_resnext" in metrics:
        nets.resnext = load_resnext(files["vfid_resnext"][0]).to(device)
    return nets


def evaluate(pred: Path, gt: Path, metrics: Optional[str] = None, pairs: Optional[Path] = None,
             protocol: str = "standard", lpips_net: str = "alex", mode: str = "auto",
             weights_root: Optional[Path] = None, device: str = "auto", max_frames: Optional[int] = None,
             task: TaskFactory = _silent_task) -> EvalReport:
    """Compute `metrics` (comma-separated; None = the default set of the mode) of the predictions in `pred`
    against the ground truth in `gt`, reading at most `max_frames` frames of each video (None = all).
    `task(description, total)` is a context manager yielding `advance()` (a progress bar); silent by default."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown VFID protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if lpips_net not in NETS:
        raise InputError(f"unknown LPIPS network {lpips_net!r}; choose from {', '.join(NETS)}")
    if mode == "auto":
        mode = detect_mode(pred)
    elif mode not in DEFAULT_METRICS:
        raise InputError(f"unknown mode {mode!r}; choose from auto, video, image")
    requested, explicit = parse_metrics(metrics, mode)
    pred_items, gt_items = list_items(pred, mode), list_items(gt, mode)

    files, skipped = {}, {}
    for metric in requested:
        try:
            files[metric] = _weight_files(metric, lpips_net, weights_root)
        except MissingWeightsError as err:
            if explicit:
                raise
            skipped[metric] = str(err)
    running = tuple(m for m in requested if m in files)
    torch_device = _device(device)
    nets = _load_networks(running, files, lpips_net, torch_device)

    paired_metrics = tuple(m for m in running if m in PAIRED)
    pairs_list = pair_items(pred_items, gt_items, pairs) if paired_metrics or pairs else []
    if pairs is not None:  # the pairs file also chooses the sets that distribution metrics compare
        pred_items = list(dict.fromkeys(p for p, _ in pairs_list))
        gt_items = list(dict.fromkeys(g for _, g in pairs_list))

    notes = [f"at most the first {max_frames} frames of each video were read (--max-frames)"] if max_frames else []
    results: list[MetricResult] = []
    hashes: dict[Path, str] = {}
    if paired_metrics:
        scores = _paired(pairs_list, paired_metrics, nets, torch_device, max_frames, task, notes)
        for metric, (per_video, frames) in scores.items():
            results.append(MetricResult(
                metric=metric, value=float(np.mean(list(per_video.values()))),
                protocol="skimage" if metric == "ssim" else f"lpips-v0.1-{lpips_net}",
                videos={"pred": len(per_video), "gt": len(per_video)}, frames={"pred": frames, "gt": frames},
                weights=_weights_record(files[metric], hashes), per_video=per_video))
    cache: dict = {}
    for metric in running:
        if metric not in PAIRED:
            result = _distribution(metric, {"pred": pred_items, "gt": gt_items}, nets, protocol, torch_device,
                                   max_frames, task, cache)
            result.weights = _weights_record(files[metric], hashes)
            results.append(result)
    order = {m: i for i, m in enumerate(METRICS)}
    return EvalReport(mode=mode, results=sorted(results, key=lambda r: order[r.metric]), skipped=skipped, notes=notes)
