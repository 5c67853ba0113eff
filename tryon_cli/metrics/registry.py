"""Every metric of `dpidm eval` as a small object, in one registry (`REGISTRY`, in the order of `names.METRICS`).

A metric says what it compares with (`reference`: the ground truth or the source video), whether it needs videos,
which weight files it needs, its protocol label, and how it is computed:
- `PairedMetric`: a score per (prediction, ground truth) frame pair, averaged per video, then over videos;
- `DistributionMetric`: a statistic between the feature sets of all predictions and all ground truths, features
  from a `FeatureSpace` that metrics share (FID and KID read one pass of Inception features);
- `TemporalMetric`: a score per (prediction, source video) pair, from the prediction's frames and the source's.
Adding a metric: one object here, its name in `names.py` (light, for --help), a row in docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterator, Optional

import numpy as np
import torch

from tryon_cli.metrics.frechet import fid
from tryon_cli.metrics.i3d import load_i3d
from tryon_cli.metrics.inception import find_inception, inception_input, load_inception
from tryon_cli.metrics.inputs import Item
from tryon_cli.metrics.kid import kid
from tryon_cli.metrics.lpips import load_lpips
from tryon_cli.metrics.resnext3d import load_resnext
from tryon_cli.metrics.ssim import ssim
from tryon_cli.metrics.vfid import CLIP_LENGTH, clip_tensor, clips
from tryon_cli.metrics.warp_error import WarpErrorScore, warp_error
from tryon_cli.weights import require

KID_SCALE = 1000  # try-on tables print KID x 1000


@dataclass(frozen=True)
class Options:
    """The run's settings that metrics read."""

    lpips_net: str = "alex"
    protocol: str = "standard"
    weights_root: Optional[Path] = None
    max_frames: Optional[int] = None


class Metric:
    name: ClassVar[str]
    reference: ClassVar[str] = "gt"
    """What the predictions are compared with: "gt" (ground truth) or "source" (the videos they were made from)."""
    video_only: ClassVar[bool] = False

    def weight_files(self, options: Options) -> list[Path]:
        """The weight files needed, or MissingWeightsError naming the first missing one."""
        return []

    def protocol(self, options: Options) -> str:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------ paired
class PairedMetric(Metric):
    batch: ClassVar[int] = 4

    def load(self, files: list[Path], options: Options, device: torch.device) -> Callable:
        """`score(pred, gt) -> list[float]` for (N, 3, H, W) [0, 1] batches of equal size on `device`."""
        raise NotImplementedError


class SSIM(PairedMetric):
    name = "ssim"

    def protocol(self, options: Options) -> str:
        return "skimage"

    def load(self, files, options, device):
        return lambda pred, gt: ssim(pred, gt).tolist()


class LPIPSMetric(PairedMetric):
    name = "lpips"

    def weight_files(self, options):
        return [require(f"lpips-{options.lpips_net}", options.weights_root)]

    def protocol(self, options):
        return f"lpips-v0.1-{options.lpips_net}"

    def load(self, files, options, device):
        network = load_lpips(files[0], options.lpips_net).to(device)
        return lambda pred, gt: network(pred * 2 - 1, gt * 2 - 1).tolist()


# ------------------------------------------------------------------------------------------------ distribution
@dataclass(frozen=True)
class FeatureSpace:
    """A network's features of an item: one vector per frame (Inception) or per clip (VFID backbones)."""

    key: str
    label: str
    batch: int
    frames_per_sample: int
    weights: Callable[[Options], Path]
    loader: Callable[[Path, torch.device], Callable[[torch.Tensor], torch.Tensor]]
    inputs: Callable[[Item, Options], Iterator[torch.Tensor]]

    def unit(self, options: Options) -> str:
        return "frames" if self.frames_per_sample == 1 else f"clips (protocol {options.protocol})"


def _clip_inputs(item: Item, options: Options) -> Iterator[torch.Tensor]:
    return (clip_tensor(clip, options.protocol) for clip in clips(item.frames(options.max_frames), options.protocol))


INCEPTION = FeatureSpace(
    "inception",
    "Inception features",
    16,
    1,
    lambda o: find_inception(o.weights_root),
    lambda path, device: load_inception(path, device),
    lambda item, o: (inception_input(frame) for frame in item.frames(o.max_frames)),
)
I3D = FeatureSpace(
    "i3d",
    "I3D clip features",
    4,
    CLIP_LENGTH,
    lambda o: require("i3d", o.weights_root),
    lambda path, device: load_i3d(path).to(device).features,
    _clip_inputs,
)
RESNEXT = FeatureSpace(
    "resnext",
    "3D-ResNeXt clip features",
    4,
    CLIP_LENGTH,
    lambda o: require("resnext101", o.weights_root),
    lambda path, device: load_resnext(path).to(device).features,
    _clip_inputs,
)


class DistributionMetric(Metric):
    space: ClassVar[FeatureSpace]

    def weight_files(self, options):
        return [self.space.weights(options)]

    def statistic(self, pred: np.ndarray, gt: np.ndarray) -> float:
        raise NotImplementedError


class FID(DistributionMetric):
    name, space = "fid", INCEPTION

    def protocol(self, options):
        return "clean-fid"

    def statistic(self, pred, gt):
        return fid(pred, gt)


class KID(DistributionMetric):
    name, space = "kid", INCEPTION

    def protocol(self, options):
        return f"clean-fid (x{KID_SCALE})"

    def statistic(self, pred, gt):
        return kid(pred, gt) * KID_SCALE


class VFID(DistributionMetric):
    video_only = True

    def __init__(self, name: str, space: FeatureSpace):
        self.name, self.space = name, space

    def protocol(self, options):
        return options.protocol

    def statistic(self, pred, gt):
        return fid(pred, gt)


# ------------------------------------------------------------------------------------------------ temporal
class TemporalMetric(Metric):
    reference = "source"
    video_only = True

    def score(self, pred: Item, source: Item, options: Options) -> WarpErrorScore:
        raise NotImplementedError


class WarpError(TemporalMetric):
    name = "warp_error"

    def protocol(self, options):
        return "lai2018-dis"

    def score(self, pred, source, options):
        return warp_error(pred.frames(options.max_frames), source.frames(options.max_frames))


REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (SSIM(), LPIPSMetric(), FID(), KID(), VFID("vfid_i3d", I3D), VFID("vfid_resnext", RESNEXT), WarpError())
}
