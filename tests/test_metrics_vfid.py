"""VFID: the clip protocols, and VFID-I3D end to end through the runner on frame folders (random I3D weights saved
as an `i3d.pt` file and loaded the way users' real weights are)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

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


def test_vfid_of_a_set_with_itself_is_about_zero_and_grows_with_frame_shuffling(tmp_path, weights_root):
    torch.manual_seed(0)
    (weights_root / "eval").mkdir()
    torch.save(InceptionI3d().state_dict(), weights_root / "eval" / "i3d.pt")
    videos = {f"v{i}": _frames(10, seed=i) for i in range(2)}  # one clip each: I3D at 224x224 is slow on a CPU
    real = _write_set(tmp_path / "real", videos)
    shuffled = _write_set(tmp_path / "shuffled", {k: _shuffled_within_clips(v, 1) for k, v in videos.items()})

    same = evaluate(real, real, metrics="vfid_i3d", device="cpu").results[0]
    moved = evaluate(shuffled, real, metrics="vfid_i3d", device="cpu").results[0]
    assert same.samples == {"pred": 2, "gt": 2} and same.frames == {"pred": 20, "gt": 20}
    assert same.protocol == "standard" and len(same.weights[0]["sha256"]) == 64
    assert moved.value > 0
    assert abs(same.value) < 1e-3 * moved.value


def test_vfid_needs_two_clips_per_side(tmp_path, weights_root):
    (weights_root / "eval").mkdir()
    torch.save(InceptionI3d().state_dict(), weights_root / "eval" / "i3d.pt")
    short = _write_set(tmp_path / "short", {"v0": _frames(9), "v1": _frames(8)})  # shorter than one clip
    with pytest.raises(InputError, match=r"vfid_i3d needs at least 2 clips \(protocol catv2ton\) per side, the pred"):
        evaluate(short, short, metrics="vfid_i3d", protocol="catv2ton", device="cpu")
