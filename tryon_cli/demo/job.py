"""One try-on request from the page or the API: checked first, then run by the application the CLI runs.

Everything a job writes goes to a folder of its own, removed when the job ends (done or failed); the files the
page shows are first handed to Gradio's cache, which serves them until the server's cache clean-up or exit.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from tryon_cli.demo.config import DPIDM, WARP, DemoConfig
from tryon_cli.demo.progress import PageProgress
from tryon_cli.engines import build_engine, resolve_model
from tryon_cli.engines.dpidm_sampling import DPIDMSampling
from tryon_cli.engines.trained_on import check_pose_backend, mask_note, trained_on
from tryon_cli.errors import InputError
from tryon_cli.io.video import probe_video
from tryon_cli.pipelines.choices import MODEL_DEFAULTS
from tryon_cli.tryon.application import run_tryon
from tryon_cli.tryon.settings import TryOnSettings

TINY = "tiny"  # the untrained install check, offered only behind its toggle
INTERMEDIATES = ("pose", "mask", "agnostic")


@dataclass(frozen=True)
class Request:
    video: Optional[Path]
    garment: Optional[Path]
    category: str = "upper"
    engine: str = WARP
    install_check: bool = False  # True: the tiny untrained model instead of `engine`
    steps: Optional[int] = None  # None: the model's default
    guidance: float = 1.5
    seed: int = 0
    first_frame: int = 0
    end_frame: Optional[int] = None  # exclusive; None: to the end
    preview: bool = True
    intermediates: bool = True

    @property
    def model(self) -> str:
        return TINY if self.install_check else self.engine


@dataclass(frozen=True)
class JobResult:
    """Paths in Gradio's cache, as the page serves them."""

    video: str
    preview: Optional[str]
    intermediates: dict[str, str]  # pose, mask, agnostic -> video
    status: str  # one line for the page: frames, size, engine, seconds, notes


def check_request(request: Request, config: DemoConfig) -> None:
    """The cheap checks, before any model is built: what is missing, what is not offered, what is too long."""
    if request.video is None:
        raise InputError("give a person video (upload one, or click one of the examples)")
    if request.garment is None:
        raise InputError("give a garment photo (upload one, or click one of the examples)")
    if not request.install_check and request.engine not in config.engines():
        raise InputError(f"engine {request.engine!r} is not offered here; choose from {', '.join(config.engines())}")
    if request.first_frame < 0 or (request.end_frame is not None and request.end_frame <= request.first_frame):
        raise InputError(f"frame range {request.first_frame}:{request.end_frame} is empty or negative")
    meta = probe_video(request.video)
    if meta.frame_count > config.max_frames:
        raise InputError(
            f"the video has {meta.frame_count} frames ({meta.duration:.1f} s); this demo takes at most "
            f"{config.max_frames} (`dpidm demo --max-frames N` changes that)"
        )


class EngineCache:
    """The last engine built, reused while requests ask for the same one (DPIDM loads in about a minute)."""

    def __init__(self, config: DemoConfig):
        self._config = config
        self._key: tuple | None = None
        self._engine = None

    def get(self, request: Request, notes: Callable[[str], None]) -> tuple[object, str]:
        """The engine for `request`, the kind it is ("warp", "sd15" or "tiny": the key of MODEL_DEFAULTS) and what
        its checkpoint was trained on (the window, size and pose backend it is run with)."""
        config = self._config
        model = {WARP: "warp", DPIDM: "auto", TINY: "tiny"}[request.model]
        checkpoint = config.checkpoint if request.model == DPIDM else None
        kind = resolve_model(model, checkpoint, config.weights_root)
        trained = trained_on(kind, checkpoint, config.weights_root)
        check_pose_backend(trained, config.weights_root, allow=False)
        note = mask_note(trained)
        if note:
            notes(note)
        sampling = None
        if kind != "warp":
            sampling = DPIDMSampling(
                steps=request.steps or MODEL_DEFAULTS[kind]["steps"],
                guidance=request.guidance,
                seed=request.seed,
                window=trained.window,
                overlap=trained.window // 3,
            )
        key = (model, checkpoint, sampling)
        if key != self._key:
            self._engine = self._key = None  # let the old model go before the new one loads
            self._engine = build_engine(
                model,
                checkpoint=checkpoint,
                weights_root=config.weights_root,
                device=config.device,
                dtype=config.dtype,
                sampling=sampling,
                notes=notes,
            )
            self._key = key
        return self._engine, kind, trained


def run_job(
    request: Request,
    config: DemoConfig,
    engines: EngineCache,
    progress: PageProgress,
    jobs_root: Path,
    keep: Callable[[Path], str],
) -> JobResult:
    """Check, build or reuse the engine, run the try-on in a job folder, hand its files to `keep`, remove it.

    `keep(path)` copies a file to where the page can fetch it and returns the new path (Gradio's cache).
    """
    check_request(request, config)
    started = time.perf_counter()
    engine, kind, trained = engines.get(request, progress.note)
    whole = request.first_frame == 0 and request.end_frame is None
    settings = TryOnSettings(
        category=request.category,
        frames=None if whole else (request.first_frame, request.end_frame),
        height=trained.height or MODEL_DEFAULTS[kind]["height"],
        width=trained.width or MODEL_DEFAULTS[kind]["width"],
        preview=request.preview,
        keep_intermediates=request.intermediates,
        weights=config.weights_root,
        device="cuda" if config.device.startswith("cuda") else "cpu",
    )
    job = Path(tempfile.mkdtemp(prefix="job-", dir=jobs_root))
    try:
        output = job / f"{request.video.stem}_{request.garment.stem}.mp4"
        result = run_tryon(engine, request.video, request.garment, output, settings, progress=progress)
        sides = {name: result.intermediates / f"{name}.mp4" for name in INTERMEDIATES} if result.intermediates else {}
        status = (
            f"{result.frame_count} frames, {result.width}x{result.height}, {result.fps:.3f} fps, "
            f"engine {result.engine}, {time.perf_counter() - started:.1f} s"
        )
        if result.untrained:
            status += " (UNTRAINED model: an install check, not a try-on)"
        return JobResult(
            video=keep(result.video),
            preview=keep(result.preview) if result.preview else None,
            intermediates={name: keep(path) for name, path in sides.items() if path.is_file()},
            status="; ".join([status, *progress.notes]),
        )
    finally:
        shutil.rmtree(job, ignore_errors=True)


def public_message(message: str, request: Request) -> str:
    """The error line as the CLI prints it, with the server's upload paths shortened to the names uploaded."""
    for path in (request.video, request.garment):
        if path is not None:
            message = message.replace(str(path), path.name)
    return message
