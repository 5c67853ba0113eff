"""The DPIDM model core on the tiny configuration (CPU): equivalence with diffusers, zero-initialisation, the
temporal modules' invariants, PASA, the garment bank, what the TRA layers hand over, the attention backend.
Checkpoints and SD1.5-layout loading: test_models_checkpoint.py; Table 4 variants: test_models_variants.py."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DConditionModel
from einops import rearrange

from tryon_cli.models import DPIDM, GarmentConditions
from tryon_cli.models.attention import backend
from tryon_cli.models.attention.tsa import TemporalShiftAttention, shift_sources
from tryon_cli.models.configs import TINY
from tryon_cli.models.pose_encoder import level_grids
from tryon_cli.models.vae import encode_latents

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
        return model.garment_encoder.encode(garment_pixels, garment_pose)


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
        garment = model.garment_encoder.encode(garment_pixels, garment_pose)
        before = [model.main_unet(sample, 10, garment=garment, human_pose_maps=p) for p in (pose, other_pose)]
    assert torch.equal(before[0], before[1])

    model.train()
    model.set_trainable("image")
    optimizer = torch.optim.Adam(model.trainable_parameters("image"), lr=1e-2)
    garment = model.garment_encoder.encode(garment_pixels, garment_pose)  # the garment pose path trains too
    noise = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)
    noise.square().mean().backward()
    optimizer.step()

    model.eval()
    with torch.no_grad():
        garment = model.garment_encoder.encode(garment_pixels, garment_pose)
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


def pasa_oracle(attn, f_h, p_h, f_g, p_g, adapter) -> torch.Tensor:
    """Eq. 4 for ONE frame, as the paper writes it, in float64: f = [f_h, f_g] and p = [p_h, p_g] concatenated
    along the tokens, h = Attn(psi_q(f + Adpt(p)), psi_k(f + Adpt(p)), psi_v(f + Adpt(p))) with every token a query,
    and only the human half of h continues (then the attention's output projection). f_h (N_h, C), p_h (N_h, P),
    f_g (N_g, C), p_g (N_g, P); `attn` the block's attn1 (psi_q/k/v/o), `adapter` its PoseAdapter (Eq. 3)."""

    def linear(layer, x):
        out = x @ layer.weight.double().T
        return out if layer.bias is None else out + layer.bias.double()

    def adpt(p):  # Eq. 3: W_up GELU(W_down p)
        return linear(adapter.up, torch.nn.functional.gelu(linear(adapter.down, p)))

    f = torch.cat([f_h, f_g]).double()
    p = torch.cat([p_h, p_g]).double()
    x = f + adpt(p)
    q, k, v = (linear(layer, x) for layer in (attn.to_q, attn.to_k, attn.to_v))
    heads = attn.heads
    d = q.shape[-1] // heads
    out = torch.empty_like(q)
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        weights = torch.softmax(q[:, cols] @ k[:, cols].T / d**0.5, dim=-1)
        out[:, cols] = weights @ v[:, cols]
    return linear(attn.to_out[0], out)[: len(f_h)]


@torch.no_grad()
def test_pasa_equals_the_papers_equation_frame_by_frame(model):
    """Every block's PASA output, in a batch of 2 videos of 3 frames, against `pasa_oracle` per frame: the human
    tokens with their own pose, the garment tokens of THIS video (shared by its frames) with the garment pose."""
    batch, frames = 2, 3
    sample = torch.randn(batch, 9, frames, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(12))
    pose = images(13, batch, 3, frames, HEIGHT * 8, WIDTH * 8)
    garment = model.garment_encoder.encode(
        images(14, batch, 3, HEIGHT * 8, WIDTH * 8) * 2 - 1, images(15, batch, 3, 64, 48)
    )
    seen = {}
    hooks = []
    for name in model.main_unet.block_names:
        block = model.main_unet.unet.get_submodule(name)
        hooks.append(block.norm1.register_forward_hook(lambda _m, _i, out, n=name: seen.setdefault((n, "f_h"), out)))
        hooks.append(block.attn1.register_forward_hook(lambda _m, _i, out, n=name: seen.setdefault((n, "out"), out)))
    try:
        model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)
    finally:
        for hook in hooks:
            hook.remove()
    grids = level_grids(HEIGHT, WIDTH, model.main_unet.levels)
    human_pose = model.pose_encoder.pyramid(rearrange(pose, "b c t h w -> (b t) c h w"), grids)
    for name in model.main_unet.block_names:
        block = model.main_unet.unet.get_submodule(name)
        f_h, out = seen[(name, "f_h")], seen[(name, "out")]  # (b t) along the batch
        for b in range(batch):
            for t in range(frames):
                row = b * frames + t
                expected = pasa_oracle(
                    block.attn1,
                    f_h[row],
                    human_pose[block.level][row],
                    garment.features[name][b],
                    garment.pose[block.level][b],
                    block.pasa_adapter,
                )
                torch.testing.assert_close(out[row].double(), expected, rtol=1e-4, atol=1e-5, msg=f"{name} {b} {t}")


@torch.no_grad()
def test_garment_unet_runs_once_per_generation(model, inputs):
    sample, pose, garment_pixels, garment_pose = inputs
    calls = {"garment_unet": 0}

    def counter(key):
        return lambda *_: calls.__setitem__(key, calls[key] + 1)

    hooks = [
        model.garment_unet.register_forward_pre_hook(counter("garment_unet")),
    ]
    try:
        video = torch.randn(BATCH, 4, 5, HEIGHT, WIDTH)
        video_pose = images(11, BATCH, 3, 5, HEIGHT * 8, WIDTH * 8)
        conditions = model.garment_encoder.encode_for_guidance(garment_pixels, garment_pose)
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
    assert calls == {"garment_unet": 1}


def _leaf_calls(unet: torch.nn.Module, log: list[str]) -> list:
    """Forward hooks that append each leaf module's name to `log` when it finishes (repeats included); an
    `nn.Identity` (the stand-in for a removed output layer) computes nothing and is not logged."""
    return [
        module.register_forward_hook(lambda *_, n=name: log.append(n))
        for name, module in unet.named_modules()
        if not list(module.children()) and not isinstance(module, torch.nn.Identity)
    ]


@torch.no_grad()
def test_the_truncated_garment_unet_runs_only_what_feeds_the_bank(model, inputs):
    """The garment U-Net is built without what the bank never reads (the last block after its norm1, its
    container's output projection and residual, the output layers). Against the whole diffusers U-Net with the same
    weights and attention: the same bank to the bit, and the modules that run are exactly the whole U-Net's leaf
    modules up to its last block's norm1, in the same order: a removed layer that still ran would be one more."""
    garment_unet = model.garment_unet
    whole = UNet2DConditionModel(**TINY.garment_unet).eval()
    whole.set_attn_processor(backend.AttnProcessor())
    missing, unexpected = whole.load_state_dict(garment_unet.unet.state_dict(), strict=False)
    assert not unexpected and missing
    assert all(any(key.startswith(f"{name}.") for name in garment_unet.unread) for key in missing)
    seen = {}
    for name in garment_unet.block_names:
        whole.get_submodule(name).norm1.register_forward_hook(lambda _m, _i, out, n=name: seen.setdefault(n, out))
    whole_calls, truncated_calls = [], []
    hooks = _leaf_calls(whole, whole_calls) + _leaf_calls(garment_unet.unet, truncated_calls)
    _, _, garment_pixels, _ = inputs
    latents = encode_latents(model.vae, garment_pixels)
    embeds = torch.randn(1, 1, TINY.garment_unet["cross_attention_dim"], generator=torch.Generator().manual_seed(6))
    try:
        bank = garment_unet(latents, embeds)
        whole(latents, torch.zeros(1, dtype=torch.long), encoder_hidden_states=garment_unet.context(embeds))
    finally:
        for hook in hooks:
            hook.remove()
    assert list(bank) == garment_unet.block_names == list(seen)
    for name in garment_unet.block_names:
        assert torch.equal(bank[name], seen[name]), name
    last_norm1 = f"{garment_unet.block_names[-1]}.norm1"
    needed = whole_calls[: whole_calls.index(last_norm1) + 1]
    assert len(needed) < len(whole_calls) and truncated_calls == needed


@torch.no_grad()
def test_tra_inputs_come_from_the_last_two_decoder_layers_only(model, inputs, garment):
    sample, pose, _, _ = inputs
    projected = {}
    hooks = [
        model.main_unet.unet.get_submodule(f"{name}.attn1.{part}").register_forward_hook(
            lambda _m, _i, out, key=(name, part): projected.setdefault(key, []).append(out)
        )
        for name in model.tra_layer_names
        for part in ("to_q", "to_k")
    ]
    try:
        noise, handed = model.main_unet(sample, 10, garment=garment, human_pose_maps=pose, return_tra_inputs=True)
    finally:
        for hook in hooks:
            hook.remove()
    decoder = [name for name in model.main_unet.block_names if name.startswith("up_blocks.")]
    assert len(decoder) > 2 and list(handed) == decoder[-2:] == list(model.tra_layer_names)
    heads = TINY.main_unet["attention_head_dim"]  # diffusers' name for SD1.5's head count
    human_tokens = HEIGHT * WIDTH  # the last decoder level is the latent resolution
    for name, (query, key) in handed.items():
        garment_tokens = garment.features[name].shape[1]
        head_dim = query.shape[-1]
        assert query.shape == (BATCH, FRAMES, heads, human_tokens, head_dim)
        assert key.shape == (BATCH, FRAMES, heads, human_tokens + garment_tokens, head_dim)
        # (b, t) layout: frame t of sample b is row b * T + t of the layer's own projections
        by_frame = lambda x: x.unflatten(-1, (heads, -1)).transpose(-3, -2)
        torch.testing.assert_close(query[0], by_frame(projected[(name, "to_q")][0]), atol=0, rtol=0)
        human_keys, garment_keys = projected[(name, "to_k")]
        torch.testing.assert_close(key[0, :, :, :human_tokens], by_frame(human_keys), atol=0, rtol=0)
        torch.testing.assert_close(key[0, 1, :, human_tokens:], by_frame(garment_keys)[0], atol=0, rtol=0)
    # Handing them over changes nothing in the output (every layer keeps the fast kernel).
    torch.testing.assert_close(
        noise, model.main_unet(sample, 10, garment=garment, human_pose_maps=pose), atol=0, rtol=0
    )


def test_sd15_dimensions_on_the_meta_device():
    """The real configuration end to end, shapes only (meta tensors: no memory, no arithmetic)."""
    with torch.device("meta"):
        model = DPIDM.from_config("sd15")
        garment = model.garment_encoder.encode(torch.rand(1, 3, 512, 384), torch.rand(1, 3, 512, 384))
        noise, handed = model.main_unet(
            torch.rand(1, 9, 2, 64, 48),
            10,
            garment=garment,
            human_pose_maps=torch.rand(1, 3, 2, 512, 384),
            return_tra_inputs=True,
        )
    assert noise.shape == (1, 4, 2, 64, 48) and garment.image_embeds.shape == (1, 1, 768)
    assert len(garment.features) == 16  # SD1.5 has 16 transformer blocks
    assert list(handed) == [f"up_blocks.3.attentions.{i}.transformer_blocks.0" for i in (1, 2)]
    assert all(q.shape == (1, 2, 8, 64 * 48, 40) and k.shape == (1, 2, 8, 2 * 64 * 48, 40) for q, k in handed.values())


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
        assert backend._probe_xformers(torch.device("cpu"), asked=True) == "sdpa"
    assert backend.AttentionBackend("xformers").kernel_for(torch.device("cpu")) == "sdpa"  # never off CUDA
    with pytest.raises(ValueError, match="unknown attention backend"):
        backend.AttentionBackend("flash")


@pytest.mark.gpu
def test_cuda_half_precision_forward(inputs):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    sample, pose, garment_pixels, garment_pose = inputs
    model = tiny_model().to("cuda", torch.float16)
    cuda = lambda t: t.to("cuda", torch.float16)
    with torch.no_grad():
        garment = model.garment_encoder.encode(cuda(garment_pixels), cuda(garment_pose))
        noise, handed = model.main_unet(
            cuda(sample), 10, garment=garment, human_pose_maps=cuda(pose), return_tra_inputs=True
        )
    assert noise.shape == sample[:, :4].shape and torch.isfinite(noise).all()
    assert list(handed) == list(model.tra_layer_names)
