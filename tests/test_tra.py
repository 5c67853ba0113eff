"""The TRA loss (Eq. 6) computed over query chunks from queries and keys equals an independent oracle (explicit
loops in float64, written here, sharing nothing with the code under test): value and gradients, on random tensors
(odd chunk remainders) and on the tiny model's own PASA layers, with and without gradient checkpointing."""

from __future__ import annotations

import math

import pytest
import torch

from tryon_cli.models import DPIDM
from tryon_cli.training.losses import tra_loss

GAMMAS = [0.5, 0.25]


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """|value - reference| / |reference| over the whole tensor (elementwise ratios blow up near zero entries)."""
    return float((value.double() - reference.double()).norm() / reference.double().norm())


def random_layers(
    seed: int, batch: int, frames: int, heads: int, queries: int, keys: int, dim: int, dtype=torch.float32
):
    generator = torch.Generator().manual_seed(seed)
    layers = []
    for _ in GAMMAS:
        q = (2 * torch.randn(batch, frames, heads, queries, dim, generator=generator)).to(dtype).requires_grad_()
        k = (2 * torch.randn(batch, frames, heads, keys, dim, generator=generator)).to(dtype).requires_grad_()
        layers.append((q, k))
    return layers


def tra_oracle(layers, gammas) -> torch.Tensor:
    """Eq. 6 with our reading of |.| (docs/design.md): sum over layers i of gamma_i times, per frame pair (j-1, j),
    the L1 distance between the attention rows softmax(q k^T / sqrt(d)) of each query, averaged over batch, heads and
    queries. One row at a time, in float64; differentiable (autograd through these plain operations)."""
    total = torch.zeros((), dtype=torch.float64)
    for (query, key), gamma in zip(layers, gammas):
        q, k = query.double(), key.double()
        batch, frames, heads, queries, dim = q.shape
        change = torch.zeros((), dtype=torch.float64)
        for b in range(batch):
            for h in range(heads):
                for n in range(queries):
                    previous = None
                    for j in range(frames):
                        scores = (k[b, j, h] @ q[b, j, h, n]) / math.sqrt(dim)  # (keys,)
                        weights = torch.exp(scores - scores.max())
                        row = weights / weights.sum()
                        if previous is not None:
                            change = change + (row - previous).abs().sum()
                        previous = row
        total = total + gamma * change / (batch * heads * queries)
    return total


def loss_and_grads(loss_fn, layers):
    tensors = [t for layer in layers for t in layer]
    loss = loss_fn(layers, GAMMAS)
    return loss.detach(), torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize(
    "shape, chunk",
    [
        ((1, 2, 1, 7, 11, 4), 3),  # chunks of 3, 3, 1
        ((2, 4, 3, 10, 20, 8), 4),  # remainder 2
        ((2, 5, 2, 33, 66, 5), 16),  # remainder 1
        ((1, 3, 2, 12, 24, 6), 64),  # one chunk bigger than the queries
    ],
)
def test_chunked_equals_the_oracle_loss_and_gradients(shape, chunk):
    layers = random_layers(sum(shape), *shape)
    value, grads = loss_and_grads(lambda l, g: tra_loss(l, g, chunk=chunk), layers)
    reference, reference_grads = loss_and_grads(tra_oracle, layers)
    assert value > 0 and relative_error(value, reference) <= 1e-5
    for grad, expected in zip(grads, reference_grads):
        assert grad.dtype == torch.float32 and expected.abs().max() > 0
        assert relative_error(grad, expected) <= 1e-5


def test_half_precision_inputs_get_a_float32_softmax():
    layers = random_layers(3, 1, 3, 2, 9, 18, 8, dtype=torch.bfloat16)
    value, grads = loss_and_grads(lambda l, g: tra_loss(l, g, chunk=4), layers)
    reference, reference_grads = loss_and_grads(tra_oracle, layers)
    assert value.dtype == torch.float32 and relative_error(value, reference) <= 1e-5
    assert all(g.dtype == torch.bfloat16 for g in grads)
    assert all(relative_error(g, e) <= 1e-2 for g, e in zip(grads, reference_grads))  # bf16 rounding of the result


def test_autocast_does_not_lower_the_loss_precision():
    layers = random_layers(5, 1, 3, 2, 9, 18, 8)
    reference, reference_grads = loss_and_grads(lambda l, g: tra_loss(l, g, chunk=4), layers)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # would run the matmuls in bf16
        value, grads = loss_and_grads(lambda l, g: tra_loss(l, g, chunk=4), layers)
    assert relative_error(value, reference) <= 1e-6
    assert all(relative_error(g, e) <= 1e-6 for g, e in zip(grads, reference_grads))


def test_eq6_by_hand_zero_for_identical_frames_and_one_frame():
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(2, 6, 3, 10, 4, generator=generator)
    k = torch.randn(2, 6, 3, 20, 4, generator=generator)
    still = (q[:, :1].expand_as(q), k[:, :1].expand_as(k))
    assert float(tra_loss([still, still], GAMMAS)) == 0.0
    maps = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(4), dim=-1)
    # gamma * sum over frame pairs of the mean (over batch, heads, queries) L1 distance of attention rows
    by_hand = 0.5 * sum((maps[:, j] - maps[:, j - 1]).abs().sum(-1).mean() for j in range(1, 6))
    assert float(tra_loss([(q, k), still], GAMMAS, chunk=3)) == pytest.approx(float(by_hand), rel=1e-5)
    one = (q[:, :1].requires_grad_(), k[:, :1].requires_grad_())
    loss = tra_loss([one, one], GAMMAS)
    assert float(loss.detach()) == 0.0 and not torch.autograd.grad(loss, one[0])[0].any()
    with pytest.raises(ValueError, match="2 TRA layers but 1 gammas"):
        tra_loss([one, one], [1.0])


# ---- on the tiny model's own TRA layers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warm_model():
    """The tiny model in its video phase, zero-initialised tensors made small and random (as after training), so
    that TRA's gradient reaches the TSA/PATA modules in front of the TRA layers."""
    model = DPIDM.from_config("tiny", seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.checkpoint_parameters().values():
            if not p.any():
                p.copy_(0.05 * torch.randn(p.shape, generator=generator))
    model.set_trainable("video")
    return model.train()


@pytest.fixture(scope="module")
def clip():
    generator = torch.Generator().manual_seed(2)
    frames, h, w = 4, 4, 3
    sample = torch.randn(2, 9, frames, h, w, generator=generator)
    pose = torch.rand(2, 3, frames, 8 * h, 8 * w, generator=generator)
    garment_pixels = torch.rand(2, 3, 8 * h, 8 * w, generator=generator) * 2 - 1
    garment_pose = torch.rand(2, 3, 8 * h, 8 * w, generator=generator)
    return sample, pose, garment_pixels, garment_pose


def model_grads(model, clip, loss_fn):
    sample, pose, garment_pixels, garment_pose = clip
    model.zero_grad(set_to_none=True)
    garment = model.garment_encoder.encode(garment_pixels, garment_pose)
    _, handed = model.main_unet(
        sample, torch.tensor([500, 20]), garment=garment, human_pose_maps=pose, return_tra_inputs=True
    )
    loss = loss_fn([handed[name] for name in model.tra_layer_names], GAMMAS)
    loss.backward()
    grads = {
        name: p.grad.clone() for name, p in model.named_trainable_parameters("video").items() if p.grad is not None
    }
    return loss.detach(), grads


def test_on_the_model_chunked_equals_the_oracle_with_and_without_checkpointing(warm_model, clip):
    reference, expected = model_grads(warm_model, clip, tra_oracle)
    assert any(".tsa." in n for n in expected) and any(".pata." in n for n in expected)
    runs = {}
    block = warm_model.main_unet.unet.get_submodule(warm_model.tra_layer_names[-1])
    calls = []
    hook = block.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        for checkpointing in (False, True):
            if checkpointing:
                warm_model.enable_gradient_checkpointing()
            calls.clear()
            runs[checkpointing] = model_grads(warm_model, clip, lambda l, g: tra_loss(l, g, chunk=5))
            assert len(calls) == (2 if checkpointing else 1)  # recomputed in the backward pass when on
    finally:
        hook.remove()
        warm_model.disable_gradient_checkpointing()
    for value, grads in runs.values():
        assert value > 0 and relative_error(value, reference) <= 1e-5
        assert grads.keys() == expected.keys()
        for name, grad in grads.items():
            assert relative_error(grad, expected[name]) <= 1e-5, name
