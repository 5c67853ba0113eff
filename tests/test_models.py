"""The DPIDM model core on the tiny configuration (CPU): equivalence with diffusers, zero-initialisation, the
temporal modules' invariants, PASA, the garment bank, the TRA map API, checkpoints and SD1.5-layout loading."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from einops import rearrange
from safetensors.torch import load_file
from transformers import CLIPConfig, CLIPModel

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.models import DPIDM, GarmentConditions
from tryon_cli.models.attention import backend
from tryon_cli.models.attention.tsa import TemporalShiftAttention, shift_sources
from tryon_cli.models.configs import TINY

BATCH, FRAMES, HEIGHT, WIDTH = 1, 3, 8, 6  # latent size; images are 8x larger
NEW_MODULES = ("pose_encoder", "pasa_adapter", "tsa", "pata")


def randomize_new_modules(model: DPIDM, seed: int = 1) -> None:
    """Give DPIDM's zero-initialised modules non-zero weights, so that switching them off is a real test."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.main_unet.named_parameters():
            if any(f".{kind}." in f".{name}" for kind in NEW_MODULES):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)


def tiny_model(seed: int = 0) -> DPIDM:
    torch.manual_seed(seed)
    return DPIDM.from_config("tiny").eval()


def images(seed: int, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model() -> DPIDM:
    model = tiny_model()
    randomize_new_modules(model)
    return model


@pytest.fixture(scope="module")
def inputs():
    sample = torch.randn(BATCH, 9, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(2))
    pose = images(3, BATCH, 3, FRAMES, HEIGHT * 8, WIDTH * 8)
    garment_pixels = images(4, BATCH, 3, HEIGHT * 8, WIDTH * 8) * 2 - 1
    garment_pose = images(5, BATCH, 3, HEIGHT * 8, WIDTH * 8)
    return sample, pose, garment_pixels, garment_pose


@pytest.fixture(scope="module")
def garment(model, inputs) -> GarmentConditions:
    _, _, garment_pixels, garment_pose = inputs
    with torch.no_grad():
        return model.encode_garment(garment_pixels, garment_pose)


@torch.no_grad()
def test_matches_diffusers_unet_without_garment_pose_or_temporal(model, inputs):
    sample, _, _, _ = inputs
    plain = UNet2DConditionModel(**TINY.main_unet).eval()
    keys = plain.state_dict().keys()
    # The SD1.5 names are kept: the plain U-Net takes the main U-Net's weights strictly.
    plain.load_state_dict({k: v for k, v in model.main_unet.unet.state_dict().items() if k in keys}, strict=True)
    embeds = torch.randn(BATCH, 1, TINY.main_unet["cross_attention_dim"])

    ours = model.main_unet(sample, 500, garment=GarmentConditions(embeds), use_temporal=False)
    reference = plain(
        rearrange(sample, "b c t h w -> (b t) c h w"),
        500,
        encoder_hidden_states=embeds.repeat_interleave(FRAMES, dim=0),
    ).sample
    reference = rearrange(reference, "(b t) c h w -> b c t h w", t=FRAMES)
    assert ours.shape == (BATCH, 4, FRAMES, HEIGHT, WIDTH)
    assert (ours - reference).abs().max().item() <= 1e-5


def test_pose_is_ignored_when_fresh_and_used_after_one_step(inputs):
    sample, pose, garment_pixels, garment_pose = inputs
    model = tiny_model(seed=7)
    other_pose = images(9, *pose.shape)
    with torch.no_grad():
        garment = model.encode_garment(garment_pixels, garment_pose)
        before = [model.main_unet(sample, 10, garment=garment, human_pose_maps=p) for p in (pose, other_pose)]
    assert torch.equal(before[0], before[1])

    model.train()
    model.set_trainable("image")
    optimizer = torch.optim.Adam(model.trainable_parameters("image"), lr=1e-2)
    garment = model.encode_garment(garment_pixels, garment_pose)  # the garment pose path trains too
    noise = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)
    noise.square().mean().backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        garment = model.encode_garment(garment_pixels, garment_pose)
        after = [model.main_unet(sample, 10, garment=garment, human_pose_maps=p) for p in (pose, other_pose)]
    assert (after[0] - after[1]).abs().max().item() > 1e-6


@torch.no_grad()
def test_frames_are_independent_without_temporal_modules(model, inputs, garment):
    sample, pose, _, _ = inputs
    order = torch.tensor([2, 0, 1])
    out = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose, use_temporal=False)
    permuted = model.main_unet(
        sample[:, :, order], 10, garment=garment, human_pose_maps=pose[:, :, order], use_temporal=False
    )
    torch.testing.assert_close(permuted, out[:, :, order], atol=1e-5, rtol=0)
    # ...and the temporal modules do mix frames (the check above would catch a leak).
    mixed = model.main_unet(sample[:, :, order], 10, garment=garment, human_pose_maps=pose[:, :, order])
    assert (mixed - out[:, :, order]).abs().max().item() > 1e-4


@torch.no_grad()
def test_tsa_looks_back_only(model, inputs, garment):
    sample, pose, _, _ = inputs
    run = lambda s: model.main_unet(s, 10, garment=garment, human_pose_maps=pose, use_tsa=True, use_pata=False)
    out = run(sample)
    later_changed = sample.clone()
    later_changed[:, :, 2] = torch.randn_like(later_changed[:, :, 2])
    changed = run(later_changed)
    torch.testing.assert_close(changed[:, :, :2], out[:, :, :2], atol=1e-6, rtol=0)
    earlier_changed = sample.clone()
    earlier_changed[:, :, 0] = torch.randn_like(earlier_changed[:, :, 0])
    changed = run(earlier_changed)
    assert (changed[:, :, 1] - out[:, :, 1]).abs().max().item() > 1e-4  # frame 1 does read frame 0


def test_tsa_shift_pattern_and_first_frame():
    sources = shift_sources(frames=4, grid=(2, 3), shift_frames=2)
    assert sources[0].tolist() == [0] * 6  # no past: the first frame shifts in itself
    assert sources[3].tolist() == [2, 1, 2, 1, 2, 1]  # cell (i, j) looks back 1 + (i + j) mod L frames
    assert sources[1].tolist() == [0, 0, 0, 0, 0, 0]  # clamped at the window start
    # With keys and values [h, h], the first frame's TSA is plain self-attention over h.
    torch.manual_seed(0)
    tsa = TemporalShiftAttention(dim=16, heads=2, shift_frames=2)
    torch.nn.init.normal_(tsa.attn.to_out[0].weight)
    tokens = torch.randn(1, 6, 16)
    with torch.no_grad():
        h = tsa.norm(tokens)
        torch.testing.assert_close(tsa(tokens, frames=1, grid=(2, 3)), tsa.attn(h), atol=1e-6, rtol=0)


@torch.no_grad()
def test_pasa_reads_the_garment_and_keeps_the_human_shape(model, inputs, garment):
    sample, pose, garment_pixels, garment_pose = inputs
    out = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)
    assert out.shape == (BATCH, 4, FRAMES, HEIGHT, WIDTH)
    other = model.encode_garment(-garment_pixels, garment_pose)
    no_tokens = GarmentConditions(garment.image_embeds)  # same CLIP embedding, no garment U-Net tokens
    for condition in (other, no_tokens):
        changed = model.main_unet(sample, 10, garment=condition, human_pose_maps=pose)
        assert (changed - out).abs().max().item() > 1e-4
    # At the processor level: N_h human tokens in, N_h out, whatever the number of garment tokens.
    block = model.main_unet.unet.get_submodule(model.main_unet.block_names[0])
    human = torch.randn(2 * BATCH, 48, block.attn1.query_dim)
    garment_tokens = torch.randn(BATCH, 20, block.attn1.query_dim)
    assert block.attn1(human, garment_tokens=garment_tokens, frames=2).shape == human.shape


@torch.no_grad()
def test_garment_unet_runs_once_per_generation(model, inputs):
    sample, pose, garment_pixels, garment_pose = inputs
    calls = {"garment_unet": 0, "conv_out": 0}

    def counter(key):
        return lambda *_: calls.__setitem__(key, calls[key] + 1)

    hooks = [
        model.garment_unet.register_forward_pre_hook(counter("garment_unet")),
        model.garment_unet.unet.conv_out.register_forward_pre_hook(counter("conv_out")),
    ]
    try:
        video = torch.randn(BATCH, 4, 5, HEIGHT, WIDTH)
        video_pose = images(11, BATCH, 3, 5, HEIGHT * 8, WIDTH * 8)
        conditions = model.encode_garment_for_guidance(garment_pixels, garment_pose)
        for step in (900, 500, 100):  # a 3-step, 2-window (frames 0-2 and 2-4) guided generation
            for start in (0, 2):
                window = video[:, :, start : start + 3]
                masked = sample[:, 4:, :1].expand(-1, -1, 3, -1, -1)
                batch_input = torch.cat([window, masked], dim=1).repeat(2, 1, 1, 1, 1)
                window_pose = video_pose[:, :, start : start + 3].repeat(2, 1, 1, 1, 1)
                noise = model.main_unet(batch_input, step, garment=conditions, human_pose_maps=window_pose)
                unconditional, conditional = noise.chunk(2)
                assert not torch.equal(unconditional, conditional)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == {"garment_unet": 1, "conv_out": 0}  # once, and the unread tail is never computed


@torch.no_grad()
def test_tra_maps_come_from_the_last_two_decoder_layers_only(model, inputs, garment):
    sample, pose, _, _ = inputs
    noise, maps = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose, return_pasa_maps=True)
    decoder = [name for name in model.main_unet.block_names if name.startswith("up_blocks.")]
    assert len(decoder) > 2 and list(maps) == decoder[-2:] == list(model.tra_layer_names)
    heads = TINY.main_unet["attention_head_dim"]  # diffusers' name for SD1.5's head count
    human_tokens = HEIGHT * WIDTH  # the last decoder level is the latent resolution
    for name, attention_map in maps.items():
        garment_tokens = garment.features[name].shape[1]
        assert attention_map.shape == (BATCH, FRAMES, heads, human_tokens, human_tokens + garment_tokens)
        torch.testing.assert_close(attention_map.sum(-1), torch.ones(attention_map.shape[:-1]))
    # The explicit-softmax path computes the same noise as the fast kernel.
    plain = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)
    torch.testing.assert_close(noise, plain, atol=1e-5, rtol=0)


def test_sd15_dimensions_on_the_meta_device():
    """The real configuration end to end, shapes only (meta tensors: no memory, no arithmetic)."""
    with torch.device("meta"):
        model = DPIDM.from_config("sd15")
        garment = model.encode_garment(torch.rand(1, 3, 512, 384), torch.rand(1, 3, 512, 384))
        noise, maps = model.main_unet(
            torch.rand(1, 9, 2, 64, 48), 10, garment=garment, human_pose_maps=torch.rand(1, 3, 2, 512, 384),
            return_pasa_maps=True,
        )
    assert noise.shape == (1, 4, 2, 64, 48) and garment.image_embeds.shape == (1, 1, 768)
    assert len(garment.features) == 16  # SD1.5 has 16 transformer blocks
    assert list(maps) == [f"up_blocks.3.attentions.{i}.transformer_blocks.0" for i in (1, 2)]
    assert all(m.shape == (1, 2, 8, 64 * 48, 2 * 64 * 48) for m in maps.values())


def test_phases_select_the_papers_modules(model):
    image = model.named_trainable_parameters("image")
    video = model.named_trainable_parameters("video")
    assert not set(image) & set(video)
    assert all(any(f".{k}." in n for k in ("attn1", "attn2", "pasa_adapter", "pose_encoder")) for n in image)
    assert all(".tsa." in n or ".pata." in n for n in video)
    block = model.main_unet.block_names[0]
    assert f"main_unet.unet.{block}.attn2.to_k.weight" in image
    assert f"main_unet.unet.{block}.ff.net.2.weight" not in image | video.keys()
    assert not any(n.startswith(("garment_unet", "vae", "image_encoder")) for n in image | video.keys())


def test_xformers_probe_falls_back_with_one_warning(monkeypatch):
    import sys
    import types

    broken = types.ModuleType("xformers.ops")

    def fail(*_args, **_kwargs):
        raise RuntimeError("built for another torch")

    broken.memory_efficient_attention = fail
    monkeypatch.setitem(sys.modules, "xformers", types.ModuleType("xformers"))
    monkeypatch.setitem(sys.modules, "xformers.ops", broken)
    with pytest.warns(UserWarning, match="xformers is installed but does not run"):
        assert backend._probe_xformers(torch.device("cpu")) == "sdpa"
    assert backend.backend_for(torch.device("cpu")) == "sdpa"  # never xformers off CUDA
    with pytest.raises(ValueError, match="unknown attention backend"):
        backend.set_backend("flash")


# ---- weights on disk ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sd15_folder(tmp_path_factory):
    """A weights root in the real SD1.5 diffusers layout, saved from tiny diffusers / transformers models."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(3)
    UNet2DConditionModel(**TINY.main_unet).save_pretrained(root / "stable-diffusion-inpainting" / "unet")
    AutoencoderKL(**TINY.vae).save_pretrained(root / "stable-diffusion-inpainting" / "vae")
    UNet2DConditionModel(**TINY.garment_unet).save_pretrained(root / "stable-diffusion-v1-5" / "unet")
    # The real folder is openai/clip-vit-large-patch14: a full CLIP model (text tower too) with a CLIPConfig.
    text = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 4}
    text["vocab_size"] = 99
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=TINY.image_encoder, projection_dim=32))
    clip.save_pretrained(root / "clip-vit-large-patch14")
    return root


def test_sd15_layout_loads_with_every_pretrained_weight_used(sd15_folder):
    model = DPIDM.from_pretrained(sd15_folder, modules=TINY.modules)
    parameters = dict(model.named_parameters())
    files = {
        "main_unet.unet": sd15_folder / "stable-diffusion-inpainting/unet/diffusion_pytorch_model.safetensors",
        "garment_unet.unet": sd15_folder / "stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors",
        "vae": sd15_folder / "stable-diffusion-inpainting/vae/diffusion_pytorch_model.safetensors",
        "image_encoder": sd15_folder / "clip-vit-large-patch14/model.safetensors",
    }
    used = set()
    for prefix, path in files.items():
        for key, tensor in load_file(path).items():
            if key.startswith("text_model.") or key in ("text_projection.weight", "logit_scale"):
                continue  # CLIP's text tower: DPIDM encodes garment images only
            name = f"{prefix}.{key}"
            assert name in parameters, f"pretrained tensor {key} of {path.parent.name} not used"
            assert torch.equal(parameters[name], tensor), name
            used.add(name)
    new = set(parameters) - used
    assert new == set(model.load_report.new_parameters)
    assert new and all(any(f".{kind}." in f".{n}" for kind in NEW_MODULES) for n in new)
    assert "new:" in str(model.load_report)


def test_missing_sd15_file_is_one_clear_error(sd15_folder, tmp_path):
    root = tmp_path / "weights"
    root.mkdir()
    for part in ("stable-diffusion-v1-5", "clip-vit-large-patch14"):  # the inpainting folder is missing
        (root / part).symlink_to(sd15_folder / part)
    with pytest.raises(MissingWeightsError, match="stable-diffusion-inpainting/unet/config.json") as err:
        DPIDM.from_pretrained(root)
    assert "\n" not in str(err.value)


def test_checkpoint_round_trip_is_exact_and_strict(sd15_folder, inputs, tmp_path):
    sample, pose, garment_pixels, garment_pose = inputs
    trained = DPIDM.from_pretrained(sd15_folder, modules=TINY.modules).eval()
    randomize_new_modules(trained, seed=5)
    with torch.no_grad():
        for name, p in trained.named_trainable_parameters("image").items():
            if ".attn2." in name:  # fine-tuned pretrained weights are saved too
                p.add_(0.05)
    trained.save_checkpoint(tmp_path / "ckpt")
    loaded = DPIDM.from_pretrained(sd15_folder, checkpoint=tmp_path / "ckpt").eval()
    with torch.no_grad():
        outputs = []
        for model in (trained, loaded):
            garment = model.encode_garment(garment_pixels, garment_pose)
            outputs.append(model.main_unet(sample, 10, garment=garment, human_pose_maps=pose))
    assert torch.equal(outputs[0], outputs[1])

    fresh = DPIDM.from_pretrained(sd15_folder, modules=TINY.modules)
    tensors = load_file(tmp_path / "ckpt" / "dpidm.safetensors")
    assert set(tensors) == set(fresh.checkpoint_parameters())
    from safetensors.torch import save_file

    dropped = dict(tensors)
    dropped.pop(next(iter(sorted(dropped))))
    dropped["main_unet.unknown.weight"] = torch.zeros(1)
    save_file(dropped, str(tmp_path / "ckpt" / "dpidm.safetensors"))
    with pytest.raises(InputError, match=r"1 missing .*; 1 unexpected \(main_unet.unknown.weight\)"):
        fresh.load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(InputError, match="not a DPIDM checkpoint"):
        fresh.load_checkpoint(tmp_path)


@pytest.mark.gpu
def test_cuda_half_precision_forward(inputs):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    sample, pose, garment_pixels, garment_pose = inputs
    model = tiny_model().to("cuda", torch.float16)
    cuda = lambda t: t.to("cuda", torch.float16)
    with torch.no_grad():
        garment = model.encode_garment(cuda(garment_pixels), cuda(garment_pose))
        noise, maps = model.main_unet(
            cuda(sample), 10, garment=garment, human_pose_maps=cuda(pose), return_pasa_maps=True
        )
    assert noise.shape == sample[:, :4].shape and torch.isfinite(noise).all()
    assert list(maps) == list(model.tra_layer_names)
