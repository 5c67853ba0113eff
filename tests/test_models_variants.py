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


def zero_pose_adapters(model: DPIDM, where: str) -> None:
    """W_up = 0 (the adapter's output exactly 0) in the blocks' PASA adapters (`where="pasa"`), PATA's pose
    adapters (`"pata"`) or both (`"all"`): the pose path through them is cut, nothing else changes."""
    with torch.no_grad():
        for name, module in model.main_unet.named_modules():
            kind = "pasa" if name.endswith("pasa_adapter") else "pata" if name.endswith("pata.pose_adapter") else None
            if kind is not None and where in (kind, "all"):
                module.up.weight.zero_()
                module.up.bias.zero_()


def noise_for(model, inputs, *, human_pose=None, garment_pose=None, use_temporal=True):
    sample, pose, garment_pixels, default_garment_pose = inputs
    with torch.no_grad():
        garment = model.garment_encoder.encode(
            garment_pixels, default_garment_pose if garment_pose is None else garment_pose
        )
        return model.main_unet(
            sample,
            10,
            garment=garment,
            human_pose_maps=pose if human_pose is None else human_pose,
            use_temporal=use_temporal,
        )


def moved(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@pytest.mark.parametrize("variant", ["b", "d"])
def test_each_pose_path_carries_the_pose_by_itself(variant, inputs):
    """Eq. 4 reads the human pose and the garment pose through PASA's adapter, PATA reads the human pose through
    its own (3.4): with the other paths cut, each one alone moves the output, and with all cut nothing does."""
    _, pose, _, garment_pose = inputs
    other_pose, other_garment_pose = pose.flip(-1), garment_pose.flip(-1)  # the same maps, mirrored
    model = randomized(variant)
    reference = noise_for(model, inputs)
    assert moved(noise_for(model, inputs, garment_pose=other_garment_pose), reference) > 1e-4  # PASA, p_g
    pasa_only = randomized(variant)
    zero_pose_adapters(pasa_only, "pata")
    assert moved(noise_for(pasa_only, inputs, human_pose=other_pose), noise_for(pasa_only, inputs)) > 1e-4
    pata_only = randomized(variant)
    zero_pose_adapters(pata_only, "pasa")
    assert moved(noise_for(pata_only, inputs, human_pose=other_pose), noise_for(pata_only, inputs)) > 1e-4
    # PATA is the human pose's only other path: skipped (image steps), the output no longer depends on it.
    image_step = lambda **kw: noise_for(pata_only, inputs, use_temporal=False, **kw)
    assert torch.equal(image_step(human_pose=other_pose), image_step())
    zero_pose_adapters(model, "all")
    cut = noise_for(model, inputs)
    assert torch.equal(noise_for(model, inputs, human_pose=other_pose, garment_pose=other_garment_pose), cut)


def test_variant_a_is_b_without_its_pose_adapters(inputs):
    """(a) is "standard spatial and temporal attention": (b) with the same weights and its pose adapters cut."""
    a, b = randomized("a"), randomized("b")
    missing, unexpected = b.load_state_dict(a.state_dict(), strict=False)
    assert not unexpected
    assert missing and all(any(k in n for k in ("pose_encoder", "pasa_adapter", "pose_adapter")) for n in missing)
    zero_pose_adapters(b, "all")
    torch.testing.assert_close(noise_for(a, inputs), noise_for(b, inputs), rtol=0, atol=1e-6)


def test_each_variant_has_exactly_its_modules():
    names = {v: set(dict(DPIDM.from_config("tiny", seed=0, variant=v).named_parameters())) for v in VARIANTS}
    has = lambda v, kind: any(f".{kind}." in f".{n}" for n in names[v])
    assert not has("a", "pose_encoder") and not has("a", "pasa_adapter") and not has("a", "pose_adapter")
    assert has("a", "pata") and not has("a", "tsa")  # (a): standard temporal attention, no TSA
    assert has("b", "pasa_adapter") and has("b", "pose_adapter") and not has("b", "tsa")  # (b): PASA + PATA
    assert has("c", "tsa") and names["b"] < names["c"]
    assert names["c"] == names["d"]


def _training_batch(seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    frames, height, width = 3, 64, 48  # the tiny model's latent 8x6
    pixels = lambda *shape: torch.rand(*shape, generator=generator) * 2 - 1
    mask = torch.zeros(1, 1, frames, height, width)
    mask[..., 16:48, 8:40] = 1
    return {
        "pixel_values": pixels(1, 3, frames, height, width),
        "agnostic_pixels": pixels(1, 3, frames, height, width),
        "mask": mask,
        "human_pose_maps": torch.rand(1, 3, frames, height, width, generator=generator),
        "garment_pixels": pixels(1, 3, height, width),
        "garment_pose_map": torch.rand(1, 3, height, width, generator=generator),
        "drop_garment": torch.tensor([False]),
    }


def test_c_and_d_differ_only_in_the_tra_term_of_the_loss():
    """Table 4: (d) is (c) trained with the TRA loss. The same weights and batch give (c) the LDM loss alone and
    (d) the same LDM loss plus lambda * TRA (Eq. 7), TRA > 0 on a video step."""
    from tryon_cli.data.sampler import VIDEO
    from tryon_cli.training.config import LossConfig
    from tryon_cli.training.objective import diffusion_losses

    c, d = randomized("c"), randomized("d")
    assert {k: v for k, v in c.delta.config.items() if k != "variant"} == {
        k: v for k, v in d.delta.config.items() if k != "variant"
    }
    loss = LossConfig(tra_weight_video=1e-3, tra_weight_image=0.0, tra_gammas=[0.5, 0.5])
    batch = _training_batch(0)
    losses = []
    for model in (c, d):
        torch.manual_seed(4)  # the VAE posterior's sample draws from the global generator (the trainer seeds it)
        with torch.no_grad():
            losses.append(diffusion_losses(model, batch, VIDEO, loss, torch.Generator().manual_seed(3)))
    of_c, of_d = losses
    assert torch.equal(of_c["mse"], of_d["mse"])
    assert of_c["tra"] == 0 and torch.equal(of_c["loss"], of_c["mse"])
    assert of_d["tra"] > 0 and torch.allclose(of_d["loss"], of_d["mse"] + 1e-3 * of_d["tra"])


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
