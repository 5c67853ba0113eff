"""Serving the demo: a private temporary folder for uploads, results and jobs, removed when the server stops."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

from tryon_cli.demo.config import EXAMPLES, DemoConfig


def serve(config: DemoConfig) -> None:
    """Run the demo until Ctrl-C or SIGTERM; then remove every file it made."""
    root = Path(tempfile.mkdtemp(prefix="dpidm-demo-"))
    jobs = root / "jobs"
    jobs.mkdir()
    # Gradio keeps uploads and the files it serves under GRADIO_TEMP_DIR, read when it is imported; anything
    # else that asks `tempfile` for a folder (ffmpeg wrappers, libraries) is kept inside `root` too.
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # before gradio is first imported
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    previous_tempdir, tempfile.tempdir = tempfile.tempdir, str(root)
    previous_handler = signal.signal(signal.SIGTERM, _stop)
    try:
        from tryon_cli.demo.app import build_app

        demo = build_app(config, jobs)
        demo.queue(default_concurrency_limit=1, max_size=config.queue_size)
        demo.launch(
            server_name=config.host,
            server_port=config.port,
            share=config.share,
            max_file_size=f"{config.max_upload_mb}mb",
            allowed_paths=[str(EXAMPLES)],
            show_error=False,
            quiet=True,  # gradio's banner advises `share=True` in `launch()`; ours names the flags
            prevent_thread_lock=True,
        )
        public = f", public link {demo.share_url}" if config.share else " (--share adds a public gradio.live link)"
        print(f"dpidm demo on {demo.local_url}{public}; Ctrl-C stops it", flush=True)
        demo.block_thread()
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        tempfile.tempdir = previous_tempdir
        shutil.rmtree(root, ignore_errors=True)


def _stop(signum, frame):
    """SIGTERM (`kill`, a service manager) as Ctrl-C: gradio's `launch` then closes the server and returns."""
    raise KeyboardInterrupt(f"stopped by signal {signum}")
