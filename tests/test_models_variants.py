"""The ablation variants of the paper's Table 4 as model configurations, the two readings of PATA, and the
attention backend as a property of one model instance."""

from __future__ import annotations

import pytest
import torch

from tests.test_models import inputs  # noqa: F401 (fixture)
from tryon_cli.models import DPIDM
from tryon_cli.models.attention import backend
from tryon_cli.models.attention.pata import PoseAwareTemporalAttention
from tryon_cli.models.delta import VARIANTS


def randomized(variant: str) -> DPIDM:
    """A tiny model of `variant` with every DPIDM parameter random (zero-initialised ones included), so that any
    path from the pose maps to the output shows."""
    model = DPIDM.from_config("tiny", seed=0, variant=variant).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.delta.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=generator))
    return model


def outputs_for_two_poses(model, inputs):
    sample, pose, garment_pixels, garment_pose = inputs
    with torch.no_grad():
        garment = model.encode_garment(garment_pixels, garment_pose)
        other = model.encode_garment(garment_pixels, torch.rand_like(garment_pose))
        return (
            model.main_unet(sample, 10, garment=garment, human_pose_maps=pose),
            model.main_unet(sample, 10, garment=other, human_pose_maps=torch.rand_like(pose)),
        )


def test_variant_a_ignores_the_pose_maps_and_b_reads_them(inputs):
    first, second = outputs_for_two_poses(randomized("a"), inputs)
    assert torch.equal(first, second)
    first, second = outputs_for_two_poses(randomized("b"), inputs)
    assert (first - second).abs().max() > 1e-4


def test_each_variant_has_exactly_its_modules():
    names = {v: set(dict(DPIDM.from_config("tiny", seed=0, variant=v).named_parameters())) for v in VARIANTS}
    has = lambda v, kind: any(f".{kind}." in f".{n}" for n in names[v])
    assert not has("a", "pose_encoder") and not has("a", "pasa_adapter") and not has("a", "pose_adapter")
    assert has("a", "pata") and not has("a", "tsa")  # (a): standard temporal attention, no TSA
    assert has("b", "pasa_adapter") and has("b", "pose_adapter") and not has("b", "tsa")  # (b): PASA + PATA
    assert has("c", "tsa") and names["b"] < names["c"]
    assert names["c"] == names["d"]


def test_c_and_d_differ_only_in_the_loss(inputs):
    c, d = (DPIDM.from_config("tiny", seed=0, variant=v) for v in "cd")
    assert (c.uses_tra, d.uses_tra) == (False, True)
    assert not any(VARIANTS[v].tra for v in "abc")
    for (name, p), (other, q) in zip(c.state_dict().items(), d.state_dict().items()):
        assert name == other and torch.equal(p, q), name
    assert {k: v for k, v in c.delta.config.items() if k != "variant"} == {
        k: v for k, v in d.delta.config.items() if k != "variant"
    }


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown DPIDM variant 'e'"):
        DPIDM.from_config("tiny", variant="e")


@pytest.mark.parametrize("pose_in_residual", [True, False])
def test_pata_readings(pose_in_residual):
    """A fresh PATA (zero output projection) with a trained adapter: the text's reading moves the residual stream
    by Adpt(p_h); the other feeds the pose to the temporal attention only."""
    torch.manual_seed(0)
    pata = PoseAwareTemporalAttention(dim=16, heads=2, pose_dim=8, adapter_dim=4, pose_in_residual=pose_in_residual)
    torch.nn.init.normal_(pata.pose_adapter.up.weight)
    x, pose = torch.randn(3 * 2, 5, 16), torch.randn(3 * 2, 5, 8)
    with torch.no_grad():
        moved = pata(x, pose, frames=3) - x
        expected = pata.pose_adapter(pose) if pose_in_residual else torch.zeros_like(x)
    torch.testing.assert_close(moved, expected, atol=1e-6, rtol=0)


def test_two_models_keep_their_own_attention_backend(monkeypatch):
    monkeypatch.setattr(backend, "_probe_xformers", lambda device, asked: "xformers")
    a, b = (DPIDM.from_config("tiny", seed=0) for _ in range(2))
    a.set_attention_backend("sdpa")
    b.set_attention_backend("xformers")
    cuda = torch.device("cuda")  # only the decision is asked for: no tensor goes there
    for model, kernel in ((a, "sdpa"), (b, "xformers")):
        processors = [m.processor for m in model.modules() if hasattr(getattr(m, "processor", None), "backend")]
        assert len(processors) > 3 * len(model.main_unet.block_names)  # PASA, CA, TSA, PATA, garment U-Net
        assert all(p.backend is model.attention_backend for p in processors)
        assert model.attention_backend.kernel_for(cuda) == kernel
    a.set_attention_backend("auto")
    assert b.attention_backend.name == "xformers" and a.device == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown attention backend"):
        a.set_attention_backend("flash")
