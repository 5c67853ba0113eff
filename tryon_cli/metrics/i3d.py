"""I3D (Inception-v1 inflated to 3D, Carreira & Zisserman 2017) as a clip feature extractor for VFID-I3D.

Module and parameter names follow piergiaj/pytorch-i3d's `InceptionI3d(400)`, so the community's `i3d.pt`
(Kinetics-400 RGB) loads with `strict=True`: top-level blocks named after their endpoints (`Conv3d_1a_7x7`,
`Mixed_3b`, ...), each convolution a `conv3d` + `bn` pair (BatchNorm eps 1e-3), inception branches `b0`, `b1a`,
`b1b`, `b2a`, `b2b`, `b3b`, and the classifier `logits.conv3d`. Convolutions and max-pools use TensorFlow
"SAME" padding computed from the input size (zeros, also for the pools), as that port does.

The VFID feature is the Mixed_5c output averaged over space and time: 1024-d. For a 10x224x224 clip this is
exactly the public VFID code's AvgPool3d([1, 7, 7]) followed by a mean over the remaining time steps.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tryon_cli.metrics.loading import load_strict, read_state_dict

Triple = tuple[int, int, int]


def _same_padding(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Zero-pad (T, H, W) so that a kernel/stride gives ceil(size / stride) outputs, extra padding at the end."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d with SAME padding, then BatchNorm and ReLU (the classifier has a bias and neither)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        classifier: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.classifier = kernel, stride, classifier
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, bias=classifier)
        if not classifier:
            self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_padding(x, self.kernel, self.stride))
        return x if self.classifier else F.relu(self.bn(x))


class SamePadMaxPool3d(nn.Module):
    def __init__(self, kernel: Triple, stride: Triple):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """Four branches concatenated: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = SamePadMaxPool3d((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3)
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


# (endpoint, widths of its branches) in the order of the network; pools sit between the groups.
_MIXED = {
    "3": [("Mixed_3b", (64, 96, 128, 16, 32, 32)), ("Mixed_3c", (128, 128, 192, 32, 96, 64))],
    "4": [
        ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
        ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
        ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
        ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
        ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ],
    "5": [("Mixed_5b", (256, 160, 320, 32, 128, 128)), ("Mixed_5c", (384, 192, 384, 48, 128, 128))],
}


class InceptionI3d(nn.Module):
    """I3D up to Mixed_5c plus the Kinetics classifier (kept so that `i3d.pt` loads strictly; unused here)."""

    FEATURE_DIM = 1024

    def __init__(self, num_classes: int = 400, in_channels: int = 3):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = SamePadMaxPool3d((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = SamePadMaxPool3d((1, 3, 3), (1, 2, 2))
        channels = 192
        pools = {"4": SamePadMaxPool3d((3, 3, 3), (2, 2, 2)), "5": SamePadMaxPool3d((2, 2, 2), (2, 2, 2))}
        self._order = ["Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3"]
        for group, blocks in _MIXED.items():
            if group in pools:
                name = "MaxPool3d_4a_3x3" if group == "4" else "MaxPool3d_5a_2x2"
                setattr(self, name, pools[group])
                self._order.append(name)
            for name, widths in blocks:
                block = InceptionBlock(channels, widths)
                setattr(self, name, block)
                self._order.append(name)
                channels = block.out_channels
        self.logits = Unit3D(channels, num_classes, classifier=True)

    @torch.no_grad()
    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, H, W) clips in [-1, 1] -> (N, 1024) Mixed_5c features averaged over space and time."""
        x = clips
        for name in self._order:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3, 4))


def load_i3d(path: Path) -> InceptionI3d:
    """I3D from `i3d.pt` (a plain state dict, as piergiaj/pytorch-i3d saves it), loaded strictly."""
    model = InceptionI3d()
    load_strict(model, read_state_dict(path), path, "I3D (InceptionI3d(400))")
    return model.eval()
