"""3D-ResNeXt-101 (Hara et al. 2018, Kinetics) as a clip feature extractor for VFID-ResNeXt.

Names and shapes follow kenshohara's `models/resnext.py` with cardinality 32, shortcut type B (1x1x1
convolution + BatchNorm on the first block of each stage, `downsample.0`/`downsample.1`) and 400 classes, so
`torch.load('resnext-101.pth')['state_dict']` with its `module.` prefixes stripped loads with `strict=True`. The
classifier `fc` is kept for that strict load and never applied: the VFID feature is the final average pool,
2048-d. That pool is global here; for the VFID input (10x224x224, sample_size 224, sample_duration 10) it is the
reference's AvgPool3d((1, 7, 7)) exactly.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tryon_cli.metrics.loading import load_strict, read_state_dict


class ResNeXtBottleneck(nn.Module):
    expansion = 2

    def __init__(
        self, in_planes: int, planes: int, cardinality: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        mid = cardinality * (planes // 32)
        out = planes * self.expansion
        self.conv1 = nn.Conv3d(in_planes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNeXt3D(nn.Module):
    FEATURE_DIM = 2048

    def __init__(
        self, layers: tuple[int, int, int, int] = (3, 4, 23, 3), cardinality: int = 32, num_classes: int = 400
    ):
        super().__init__()
        self.conv1 = nn.Conv3d(3, 64, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        in_planes = 64
        for index, (planes, blocks) in enumerate(zip((128, 256, 512, 1024), layers)):
            stride = 1 if index == 0 else 2
            stage, in_planes = self._stage(in_planes, planes, blocks, cardinality, stride)
            setattr(self, f"layer{index + 1}", stage)
        self.fc = nn.Linear(cardinality * 32 * ResNeXtBottleneck.expansion, num_classes)

    @staticmethod
    def _stage(in_planes: int, planes: int, blocks: int, cardinality: int, stride: int) -> tuple[nn.Sequential, int]:
        out = planes * ResNeXtBottleneck.expansion
        downsample = None
        if stride != 1 or in_planes != out:  # shortcut type B: a projection only where shapes change
            downsample = nn.Sequential(nn.Conv3d(in_planes, out, 1, stride=stride, bias=False), nn.BatchNorm3d(out))
        stage = [ResNeXtBottleneck(in_planes, planes, cardinality, stride, downsample)]
        stage += [ResNeXtBottleneck(out, planes, cardinality) for _ in range(1, blocks)]
        return nn.Sequential(*stage), out

    @torch.no_grad()
    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) clips in [-1, 1] -> (N, 2048) pooled features (the fc layer is not applied)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(clips))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3, 4))


def load_resnext(path: Path) -> ResNeXt3D:
    """3D-ResNeXt-101 from `resnext-101.pth` (a training checkpoint: {'state_dict': {'module.' + name: tensor}}, as
    kenshohara's DataParallel training saves it; a bare state dict is accepted too), loaded strictly."""
    checkpoint = read_state_dict(path)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if isinstance(state, dict):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    model = ResNeXt3D()
    load_strict(model, state, path, "3D-ResNeXt-101 (cardinality 32, shortcut B)")
    return model.eval()
