"""Writing a try-on: the engine's crops are consumed to the end, so what an engine does after its last frame (the
warp engine's one note naming the frames it left as they were) happens."""

from __future__ import annotations

from pathlib import Path

from tests.test_warp_engine import Quiet
from tryon_cli.tryon.application import run_tryon
from tryon_cli.tryon.settings import TryOnSettings

REPO = Path(__file__).resolve().parents[1]


class SourceEngine:
    """Returns every crop as it came, then notes that it is done, as the warp engine notes the frames it left."""

    name = "source"
    untrained = False

    def metadata(self) -> dict:
        return {}

    def generate(self, clip, garment, progress):
        for frame in clip.frames():
            yield frame.source.copy()
        progress.note("after the last frame")


class Noting(Quiet):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message):
        self.notes.append(message)


def test_the_engine_runs_to_its_end_and_its_closing_note_is_given(tmp_path):
    progress = Noting()
    run_tryon(
        SourceEngine(),
        REPO / "examples" / "person.mp4",
        REPO / "examples" / "garment_upper_00057_00.jpg",
        tmp_path / "out.mp4",
        TryOnSettings("upper", frames=(0, 2)),
        progress,
    )
    assert "after the last frame" in progress.notes
