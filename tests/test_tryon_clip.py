"""`VideoCropClip`: each frame's repaint mask is computed once per try-on, by the first pass that reaches the frame,
and every later pass (paste-back after the engine, DPIDM's second reading) is given the very same mask."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from tests.test_tryon_writing import SourceEngine
from tests.test_warp_engine import Quiet
from tryon_cli.io import VideoWriter
from tryon_cli.preprocess.keypoints import PoseSequence
from tryon_cli.preprocess.mask_videos import read_mask_video
from tryon_cli.tryon import clip as clip_module
from tryon_cli.tryon.application import run_tryon
from tryon_cli.tryon.clip import VideoCropClip
from tryon_cli.tryon.settings import TryOnSettings

REPO = Path(__file__).resolve().parents[1]
FRAMES, H, W = 8, 64, 48


def _videos(folder: Path) -> tuple[Path, Path]:
    """A person video and a mask video whose masks differ from frame to frame (a band moving down)."""
    person, masks = folder / "person.mp4", folder / "mask.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(person, 8) as frames, VideoWriter(masks, 8) as mask_frames:
        for t in range(FRAMES):
            frames.write(rng.integers(0, 256, (H, W, 3), np.uint8))
            mask = np.zeros((H, W, 3), np.uint8)
            mask[4 + 6 * t : 14 + 6 * t, 8:40] = 255
            mask_frames.write(mask)
    return person, masks


def _clip(person: Path, masks: Path) -> VideoCropClip:
    poses = PoseSequence(np.zeros((FRAMES, 18, 3), np.float32), H, W)
    boxes = np.tile(np.array([0, 0, W, H], np.float32), (FRAMES, 1))
    return VideoCropClip(person, 0, poses, boxes, category="upper", mask_video=masks, height=H, width=W, fps=8)


def _counting_mask_reads(monkeypatch) -> list[int]:
    """How many masks were read from the mask video, per reading of it."""
    reads: list[int] = []

    def counted(path, height, width):
        reads.append(0)
        for mask in read_mask_video(path, height, width):
            reads[-1] += 1
            yield mask

    monkeypatch.setattr(clip_module, "read_mask_video", counted)
    return reads


def test_paste_back_interleaved_with_the_engine_reads_each_mask_once(tmp_path, monkeypatch):
    person, masks = _videos(tmp_path)
    expected = list(read_mask_video(masks, H, W))
    reads = _counting_mask_reads(monkeypatch)
    clip = _clip(person, masks)
    # As `write_tryon` runs the warp engine: the engine's crop of frame t, then paste-back's full frame t.
    engine, paste = clip.frames(), clip.full_frames()
    for t in range(FRAMES):
        crop, full = next(engine), next(paste)
        assert np.array_equal(full.mask, expected[t]) and np.array_equal(crop.mask, expected[t])
        assert np.array_equal(crop.source, full.frame)  # the whole frame is the crop here
    assert next(paste, None) is None and next(engine, None) is None
    assert reads == [FRAMES]
    # A later pass (DPIDM reads the clip twice) reads no mask again and is given the same frames.
    again = list(clip.full_frames())
    assert reads == [FRAMES]
    assert all(np.array_equal(f.mask, m) for f, m in zip(again, expected, strict=True))


def test_a_pass_past_where_the_first_stopped_computes_the_rest_from_the_first_frame(tmp_path, monkeypatch):
    person, masks = _videos(tmp_path)
    expected = list(read_mask_video(masks, H, W))
    reads = _counting_mask_reads(monkeypatch)
    clip = _clip(person, masks)
    first = clip.full_frames()
    early = [f.mask for f in islice(first, 3)]
    first.close()  # abandoned after 3 frames: the masks' state (the vote, the hair) was not carried further
    later = list(clip.full_frames())
    assert reads == [3, FRAMES]  # the rest computed from the clip's start, as the masks' state requires
    assert all(np.array_equal(a, b) for a, b in zip(early, expected))
    assert [f.index for f in later] == list(range(FRAMES))
    assert all(np.array_equal(f.mask, m) for f, m in zip(later, expected, strict=True))


def test_a_warp_tryon_computes_the_agnostic_masks_once(monkeypatch, tmp_path):
    computed: list[int] = []
    compute = clip_module.frames_with_masks

    def counted(poses, category, frames):
        for pair in compute(poses, category, frames):
            computed.append(1)
            yield pair

    monkeypatch.setattr(clip_module, "frames_with_masks", counted)
    run_tryon(
        SourceEngine(),
        REPO / "examples" / "person.mp4",
        REPO / "examples" / "garment_upper_00057_00.jpg",
        tmp_path / "out.mp4",
        TryOnSettings("upper", frames=(0, 3)),
        Quiet(),
    )
    assert len(computed) == 3  # three frames, one mask each: the engine's; paste-back reads them back
