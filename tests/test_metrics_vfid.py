"""VFID: the clip protocols, and VFID-I3D end to end through the runner on frame folders (seeded I3D weights saved
as an `i3d.pt` file and loaded the way users' real weights are) against the Frechet distance in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.make_video_feature_reference import seeded_state
from tryon_cli.errors import InputError
from tryon_cli.metrics.evaluate import evaluate
from tryon_cli.metrics.i3d import InceptionI3d
from tryon_cli.metrics.vfid import clip_tensor, clips


def _frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """A bright square moving across a dark, noisy background."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(count):
        frame = rng.integers(0, 40, size=(48, 64, 3), dtype=np.uint8)
        x = 4 + 4 * t % 44
        frame[12:30, x : x + 14] = (230, 120 + 5 * seed, 40)
        out.append(frame)
    return out


def test_standard_protocol_takes_every_whole_10_frame_clip_and_catv2ton_the_first_in_bgr():
    frames = _frames(27)
    standard = list(clips(iter(frames), "standard"))
    assert [len(c) for c in standard] == [10, 10]  # 7 frames left over are dropped
    assert standard[1][0] is frames[10]
    first = list(clips(iter(frames), "catv2ton"))
    assert len(first) == 1 and first[0][0] is frames[0]
    rgb, bgr = clip_tensor(first[0], "standard"), clip_tensor(first[0], "catv2ton")
    assert rgb.shape == (3, 10, 224, 224) and rgb.min() >= -1 and rgb.max() <= 1
    assert torch.equal(bgr, rgb.flip(0))
    assert list(clips(iter(frames[:9]), "standard")) == []


def _write_set(root, videos: dict[str, list[np.ndarray]]):
    for name, frames in videos.items():
        (root / name).mkdir(parents=True)
        for index, frame in enumerate(frames):
            Image.fromarray(frame).save(root / name / f"{index:03d}.png")
    return root


def _shuffled_within_clips(frames: list[np.ndarray], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, len(frames), 10):
        block = frames[start : start + 10]
        out += [block[i] for i in rng.permutation(len(block))]
    return out


def _two_sample_frechet(pred: np.ndarray, gt: np.ndarray) -> float:
    """The Frechet distance between the Gaussians of two 2-sample feature sets, in closed form (float64).

    Two samples x1, x2 have mean (x1 + x2) / 2 and unbiased covariance a a^T with a = (x1 - x2) / sqrt(2), a
    rank-1 matrix; for a a^T and b b^T, Tr sqrt(a a^T b b^T) = |a . b| (the product's only non-zero eigenvalue is
    (a . b)^2), so d^2 = |mu1 - mu2|^2 + |a|^2 + |b|^2 - 2 |a . b|."""
    pred, gt = pred.astype(np.float64), gt.astype(np.float64)
    a, b = (pred[0] - pred[1]) / np.sqrt(2), (gt[0] - gt[1]) / np.sqrt(2)
    diff = pred.mean(axis=0) - gt.mean(axis=0)
    return float(diff @ diff + a @ a + b @ b - 2 * abs(a @ b))


@pytest.mark.slow
def test_vfid_through_the_runner_equals_the_closed_form_on_the_clips_features(tmp_path, weights_root):
    model = InceptionI3d()
    model.load_state_dict(seeded_state(model.state_dict()))
    (weights_root / "eval").mkdir()
    torch.save(model.state_dict(), weights_root / "eval" / "i3d.pt")
    videos = {f"v{i}": _frames(10, seed=i) for i in range(2)}  # one clip each: I3D at 224x224 is slow on a CPU
    shuffled_videos = {k: _shuffled_within_clips(v, 1) for k, v in videos.items()}
    real = _write_set(tmp_path / "real", videos)
    shuffled = _write_set(tmp_path / "shuffled", shuffled_videos)

    result = evaluate(shuffled, real, metrics="vfid_i3d", device="cpu").results[0]
    assert result.samples == {"pred": 2, "gt": 2} and result.frames == {"pred": 20, "gt": 20}
    assert result.protocol == "standard" and len(result.weights[0]["sha256"]) == 64

    def features(set_of_videos: dict) -> np.ndarray:  # the frames as written: PNG is lossless
        batch = torch.stack([clip_tensor(frames, "standard") for frames in set_of_videos.values()])
        return model.eval().features(batch).numpy()

    expected = _two_sample_frechet(features(shuffled_videos), features(videos))
    assert expected > 0
    # pytorch-fid's sqrtm of a singular product is regularised (eps 1e-6 on the diagonals): 1e-3 of the value.
    assert result.value == pytest.approx(expected, rel=1e-3)


def test_vfid_needs_two_clips_per_side(tmp_path, weights_root):
    (weights_root / "eval").mkdir()
    torch.save(InceptionI3d().state_dict(), weights_root / "eval" / "i3d.pt")
    short = _write_set(tmp_path / "short", {"v0": _frames(9), "v1": _frames(8)})  # shorter than one clip
    with pytest.raises(InputError, match=r"vfid_i3d needs at least 2 clips \(protocol catv2ton\) per side, the pred"):
        evaluate(short, short, metrics="vfid_i3d", protocol="catv2ton", device="cpu")
