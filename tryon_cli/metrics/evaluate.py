"""The evaluation behind `dpidm eval`: pair the inputs, load the networks whose weights exist, compute the metrics
(each one an object of `registry.REGISTRY`).

Which items each metric sees:
- paired metrics (SSIM, LPIPS) compare each prediction with its ground truth frame by frame: a mean per video
  over its frames, and overall the mean over videos (a single image is a one-frame video). Where the two differ
  in frame count the longer is truncated to the shorter; where they differ in size the prediction is resized to
  the ground truth's size (bilinear, antialiased). Both are said once, in `notes`.
- distribution metrics (FID, KID, VFID) compare the set of predictions with the set of ground truths, so they need
  no pairing and no truncation: every item of each folder, or with `--pairs` the items the pairs file names. FID
  and KID use every frame; VFID the clips its protocol takes.
- temporal metrics (warp_error) score each prediction with the flow of its source video (paired as ground truth
  is): a mean per video, and overall the mean over videos, for the prediction and for the source itself.

Missing weights: a metric the user asked for by name stops the run before anything is computed (one line naming
the file); a metric of the default set is skipped and reported with the reason.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import numpy as np
import torch

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.io import list_frame_folder, probe_video
from tryon_cli.metrics.frames import frames_to_tensor
from tryon_cli.metrics.inputs import Item, detect_mode, list_items, pair_items
from tryon_cli.metrics.loading import sha256_of
from tryon_cli.metrics.lpips import NETS
from tryon_cli.metrics.names import DEFAULT_METRICS, METRICS, PROTOCOLS, SOURCE_METRICS
from tryon_cli.metrics.registry import REGISTRY, DistributionMetric, Metric, Options, PairedMetric, TemporalMetric
from tryon_cli.metrics.report import EvalReport, MetricResult

TaskFactory = Callable[[str, int], AbstractContextManager]
"""`task(description, total)`: a context manager yielding `advance()`, e.g. a progress bar."""


def parse_metrics(
    text: Optional[str], mode: str, gt: bool = True, source: bool = False
) -> tuple[tuple[str, ...], bool]:
    """(metrics, explicit) from a comma-separated list; None gives the default set of the mode and references
    (`gt`: ground truth given; `source`: source videos given)."""
    if text is None:
        names = (DEFAULT_METRICS[mode] if gt else ()) + (SOURCE_METRICS if source and mode == "video" else ())
        if not names:
            raise InputError("source videos (--source) score only videos, but the inputs are images (--mode image)")
        return names, False
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise InputError(f"unknown metric {unknown[0] if unknown else text!r}; choose from {', '.join(METRICS)}")
    video_only = [n for n in names if REGISTRY[n].video_only]
    if mode == "image" and video_only:
        raise InputError(f"{', '.join(video_only)} needs videos, but the inputs are images (--mode image)")
    for reference, given, flag in (("gt", gt, "--gt"), ("source", source, "--source")):
        lacking = [n for n in names if REGISTRY[n].reference == reference and not given]
        if lacking:
            what = "ground truth" if reference == "gt" else "the source videos the predictions were made from"
            raise InputError(f"{', '.join(lacking)} compares with {what}: give {flag}")
    return names, True


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


def _paired(
    pairs: list[tuple[Item, Item]],
    scorers: dict[str, Callable],
    device: torch.device,
    max_frames: Optional[int],
    task: TaskFactory,
    notes: list[str],
) -> dict[str, tuple[dict[str, float], int]]:
    """Per metric: (prediction name -> mean over frames, total frames compared)."""
    per_video = {m: {} for m in scorers}
    total_frames = 0
    truncated, resized = [], []
    labels = "/".join(m.upper() for m in scorers)
    with task(f"{labels} per frame pair", len(pairs)) as advance:
        for pred, gt in pairs:
            scores = {m: [] for m in scorers}
            pred_frames, gt_frames = pred.frames(max_frames), gt.frames(max_frames)
            for batch in _batched(_zip_frames(pred_frames, gt_frames, pred.name, truncated), PairedMetric.batch):
                target = frames_to_tensor([g for _, g in batch])
                if any(p.shape != g.shape for p, g in batch) and pred.name not in resized:
                    resized.append(pred.name)
                output = frames_to_tensor([p for p, _ in batch], tuple(target.shape[-2:]))
                for metric, score in scorers.items():
                    scores[metric] += score(output.to(device), target.to(device))
            for metric, values in scores.items():
                if not values:
                    raise InputError(f"no frames to compare between {pred.path} and {gt.path}")
                per_video[metric][pred.name] = float(np.mean(values))
            total_frames += len(next(iter(scores.values())))
            advance()
    if truncated:
        notes.append(
            f"frame counts differ for {len(truncated)} of {len(pairs)} pairs (e.g. {truncated[0]}): the "
            f"longer of prediction and ground truth was truncated to the shorter for {labels}"
        )
    if resized:
        notes.append(
            f"frame sizes differ for {len(resized)} of {len(pairs)} pairs (e.g. {resized[0]}): predictions "
            f"were resized to the ground truth's size (bilinear, antialiased) for {labels}"
        )
    return {m: (per_video[m], total_frames) for m in scorers}


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


def _item_features(
    item: Item, tensors: Iterator[torch.Tensor], network: Callable, batch: int, device: torch.device
) -> np.ndarray:
    """`network` outputs, (n, D) float64, for every input tensor of `item`."""
    chunks = []
    for group in _batched(tensors, batch):
        with torch.no_grad():
            chunks.append(network(torch.stack(group).to(device)).double().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def _distribution(
    metric: DistributionMetric,
    sides: dict[str, list[Item]],
    network: Callable,
    options: Options,
    device: torch.device,
    task: TaskFactory,
    cache: dict,
) -> MetricResult:
    space = metric.space
    features = {}
    for side, items in sides.items():
        with task(f"{space.label}: {side}", len(items)) as advance:
            for item in items:
                # Cached per item: FID and KID share one pass, and an item on both sides is computed once.
                if (space.key, item.path) not in cache:
                    cache[space.key, item.path] = _item_features(
                        item, space.inputs(item, options), network, space.batch, device
                    )
                advance()
        found = [cache[space.key, item.path] for item in items if len(cache[space.key, item.path])]
        features[side] = np.concatenate(found) if found else np.zeros((0, 0))
        if len(features[side]) < 2:
            raise InputError(
                f"{metric.name} needs at least 2 {space.unit(options)} per side, the {side} folder "
                f"gives {len(features[side])}"
            )
    return MetricResult(
        metric=metric.name,
        value=metric.statistic(features["pred"], features["gt"]),
        protocol=metric.protocol(options),
        videos={side: len(items) for side, items in sides.items()},
        frames={side: len(features[side]) * space.frames_per_sample for side in sides},
        samples={side: len(features[side]) for side in sides},
    )


def _timing(pred: Item, source: Item) -> tuple[float, float, int, int]:
    """(fps, fps, frame count, frame count) of two videos; frame folders count their images and have no rate."""
    items = (pred, source)
    metas = [probe_video(item.path) if item.kind == "video" else None for item in items]
    counts = [meta.frame_count if meta else len(list_frame_folder(item.path)) for meta, item in zip(metas, items)]
    return (*(meta.fps if meta else 0.0 for meta in metas), *counts)


def _temporal(
    metric: TemporalMetric, pairs: list[tuple[Item, Item]], options: Options, task: TaskFactory, notes: list[str]
) -> MetricResult:
    scores, other_rate, other_count = {}, [], []
    with task(f"{metric.name}: flow of the source", len(pairs)) as advance:
        for pred, source in pairs:
            pred_fps, source_fps, pred_count, source_count = _timing(pred, source)
            if pred_fps and source_fps and abs(pred_fps / source_fps - 1) > 0.01:
                other_rate.append(f"{pred.name}: {pred_fps:g} against {source_fps:g} fps")
            if pred_count != source_count:
                other_count.append(pred.name)
            scores[pred.name] = metric.score(pred, source, options)
            if not scores[pred.name].pairs:
                raise InputError(f"{metric.name} needs at least 2 frames in both {pred.path} and {source.path}")
            advance()
    if other_rate:
        notes.append(
            f"frame rates differ for {len(other_rate)} of {len(pairs)} predictions and their sources (e.g. "
            f"{other_rate[0]}): {metric.name} pairs frames by index, so the source's motion does not match "
            f"the prediction's and the value means little"
        )
    if other_count:
        notes.append(
            f"frame counts differ for {len(other_count)} of {len(pairs)} predictions and their sources "
            f"(e.g. {other_count[0]}): the longer was truncated to the shorter for {metric.name}"
        )
    value = float(np.mean([s.prediction for s in scores.values()]))
    own = float(np.mean([s.source for s in scores.values()]))
    frames = sum(s.pairs + 1 for s in scores.values())
    return MetricResult(
        metric=metric.name,
        value=value,
        protocol=metric.protocol(options),
        videos={"pred": len(pairs), "source": len(pairs)},
        frames={"pred": frames, "source": frames},
        per_video={name: s.prediction for name, s in scores.items()},
        source={
            "value": own,
            "ratio": value / own if own > 0 else float("inf"),
            "per_video": {name: s.source for name, s in scores.items()},
        },
    )


def _pairs(
    pred_items: list[Item], ref_items: list[Item], pred: Path, ref: Path, pairs: Optional[Path], reference: str
) -> list[tuple[Item, Item]]:
    """Pairs by name or the pairs file; a single prediction file and a single reference file pair with each other."""
    if pairs is None and pred.is_file() and ref.is_file():
        return [(pred_items[0], ref_items[0])]
    return pair_items(pred_items, ref_items, pairs, reference)


def evaluate(
    pred: Path,
    gt: Optional[Path] = None,
    metrics: Optional[str] = None,
    pairs: Optional[Path] = None,
    protocol: str = "standard",
    lpips_net: str = "alex",
    mode: str = "auto",
    weights_root: Optional[Path] = None,
    device: str = "cpu",
    max_frames: Optional[int] = None,
    task: TaskFactory = _silent_task,
    source: Optional[Path] = None,
) -> EvalReport:
    """Compute `metrics` (comma-separated; None = the default set of the mode) of the predictions in `pred`
    against the ground truth in `gt` and/or the source videos in `source` (folders, or single files), reading at
    most `max_frames` frames of each video (None = all). `task(description, total)` is a context manager
    yielding `advance()` (a progress bar); silent by default."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown VFID protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if lpips_net not in NETS:
        raise InputError(f"unknown LPIPS network {lpips_net!r}; choose from {', '.join(NETS)}")
    if gt is None and source is None:
        raise InputError("nothing to compare with: give the ground truth (--gt) or the source videos (--source)")
    if mode == "auto":
        mode = detect_mode(pred)
    elif mode not in DEFAULT_METRICS:
        raise InputError(f"unknown mode {mode!r}; choose from auto, video, image")
    requested, explicit = parse_metrics(metrics, mode, gt is not None, source is not None)
    options = Options(lpips_net=lpips_net, protocol=protocol, weights_root=weights_root, max_frames=max_frames)
    pred_items = list_items(pred, mode)
    gt_items = list_items(gt, mode) if gt is not None else []

    files, skipped = {}, {}
    for name in requested:
        try:
            files[name] = REGISTRY[name].weight_files(options)
        except MissingWeightsError as err:
            if explicit:
                raise
            skipped[name] = str(err)
    running: list[Metric] = [REGISTRY[name] for name in requested if name in files]
    paired = [m for m in running if isinstance(m, PairedMetric)]
    temporal = [m for m in running if isinstance(m, TemporalMetric)]
    # Every pairing is checked before any network loads: a bad name is one line, at once.
    source_pairs = _pairs(pred_items, list_items(source, mode), pred, source, pairs, "source video") if temporal else []
    pairs_list = (
        _pairs(pred_items, gt_items, pred, gt, pairs, "ground truth") if gt is not None and (paired or pairs) else []
    )
    if pairs is not None and gt is not None:  # the pairs file also chooses the sets that distribution metrics compare
        pred_items = list(dict.fromkeys(p for p, _ in pairs_list))
        gt_items = list(dict.fromkeys(g for _, g in pairs_list))

    torch_device = torch.device(device)
    scorers = {m.name: m.load(files[m.name], options, torch_device) for m in paired}
    networks: dict[str, Callable] = {}  # by feature space: FID and KID share one Inception
    for metric in running:
        if isinstance(metric, DistributionMetric) and metric.space.key not in networks:
            networks[metric.space.key] = metric.space.loader(files[metric.name][0], torch_device)

    notes = [f"at most the first {max_frames} frames of each video were read (--max-frames)"] if max_frames else []
    results: list[MetricResult] = []
    hashes: dict[Path, str] = {}
    if paired:
        for name, (per_video, frames) in _paired(pairs_list, scorers, torch_device, max_frames, task, notes).items():
            results.append(
                MetricResult(
                    metric=name,
                    value=float(np.mean(list(per_video.values()))),
                    protocol=REGISTRY[name].protocol(options),
                    videos={"pred": len(per_video), "gt": len(per_video)},
                    frames={"pred": frames, "gt": frames},
                    weights=_weights_record(files[name], hashes),
                    per_video=per_video,
                )
            )
    cache: dict = {}
    for metric in running:
        if isinstance(metric, DistributionMetric):
            result = _distribution(
                metric,
                {"pred": pred_items, "gt": gt_items},
                networks[metric.space.key],
                options,
                torch_device,
                task,
                cache,
            )
            result.weights = _weights_record(files[metric.name], hashes)
            results.append(result)
    results += [_temporal(metric, source_pairs, options, task, notes) for metric in temporal]
    order = {m: i for i, m in enumerate(METRICS)}
    return EvalReport(mode=mode, results=sorted(results, key=lambda r: order[r.metric]), skipped=skipped, notes=notes)
