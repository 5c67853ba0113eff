"""`benchmarks/tryon_full.py --clip` times the DPIDM engine on a clip recorded from `dpidm tryon`'s application, so
that a GPU machine without the pose model or ffmpeg can run it: the engine must make the same frames from the
recorded clip as inside the application."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.tryon_full import load_clip, record
from tryon_cli.engines.dpidm import DPIDMEngine
from tryon_cli.engines.dpidm_sampling import DPIDMSampling
from tryon_cli.models.dpidm import DPIDM
from tryon_cli.progress import NullProgress
from tryon_cli.tryon.application import run_tryon
from tryon_cli.tryon.settings import TryOnSettings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE, GARMENT = REPO / "examples/person.mp4", REPO / "examples/garment_upper_00057_00.jpg"


class _Keeping:
    """An engine that passes everything to `engine` and keeps the frames it makes."""

    def __init__(self, engine):
        self.engine, self.frames = engine, []
        self.name, self.untrained = engine.name, engine.untrained

    def metadata(self) -> dict:
        return self.engine.metadata()

    def check_size(self, height: int, width: int) -> None:
        self.engine.check_size(height, width)

    def generate(self, clip, garment, progress):
        for frame in self.engine.generate(clip, garment, progress):
            self.frames.append(frame)
            yield frame


def test_the_engine_makes_the_same_frames_from_a_recorded_clip_as_inside_the_application(tmp_path):
    settings = TryOnSettings(height=64, width=48, frames=(0, 6))
    record(EXAMPLE, GARMENT, tmp_path / "example.clip", settings)
    clip = load_clip(tmp_path / "example.clip")
    assert (clip.num_frames, clip.height, clip.width) == (6, 64, 48)

    def engine():
        sampling = DPIDMSampling(steps=2, window=4, overlap=2)
        return DPIDMEngine(DPIDM.from_config("tiny", seed=0), sampling=sampling, untrained=True)

    inside = _Keeping(engine())
    run_tryon(inside, EXAMPLE, GARMENT, tmp_path / "out.mp4", settings)
    recorded = list(engine().generate(clip, clip.garment, NullProgress()))
    assert len(recorded) == len(inside.frames) == 6
    assert all(np.array_equal(a, b) for a, b in zip(recorded, inside.frames))
    assert np.abs(np.stack(recorded).astype(int) - np.stack([f.source for f in clip.frames()])).mean() > 1  # denoised
