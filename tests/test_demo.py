"""The web demo (`dpidm demo`) as its users meet it: a server on a free localhost port, called over gradio_client
and driven in a real browser (headless Chromium through Playwright). One server serves the whole module; the last
test stops it and checks that it left no file behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.demo
pytest.importorskip("gradio", reason="the demo extra is not installed: pip install -e '.[demo]'")
from gradio_client import Client, handle_file  # noqa: E402  (installed with gradio)
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

from tryon_cli.demo.config import DemoConfig  # noqa: E402
from tryon_cli.demo.job import Request, check_request  # noqa: E402
from tryon_cli.demo.progress import PageProgress  # noqa: E402
from tryon_cli.errors import InputError  # noqa: E402
from tryon_cli.io.video import probe_video  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "examples" / "person.mp4"
GARMENT = REPO / "examples" / "garment_upper_00057_00.jpg"
EXAMPLE_LABEL = "person + garment_upper_00057_00"  # how the page labels that example
FRAMES = 12  # of the example's 48, to keep each run short
START_TIMEOUT = 120  # s for the server to answer (torch and gradio imports on a busy 2-core machine)
RUN_TIMEOUT = 240  # s for one 12-frame warp run
MAX_UPLOAD_MB = 1  # the test server's upload limit (the example files are under 200 KB)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoServer:
    """`python -m tryon_cli demo` in a subprocess whose temporary folder (TMPDIR) is empty at the start."""

    def __init__(self, folder: Path):
        self.temp = folder / "tmp"
        self.temp.mkdir()
        self.log = folder / "server.log"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = {
            **os.environ,
            "TMPDIR": str(self.temp),
            "YOLO_CONFIG_DIR": str(folder / "ultralytics"),
            "OMP_NUM_THREADS": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tryon_cli",
                    "demo",
                    "--port",
                    str(port),
                    "--max-upload-mb",
                    str(MAX_UPLOAD_MB),
                    "--max-frames",
                    "100",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_it_answers()

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"dpidm demo exited with {self.process.returncode}:\n{self.log.read_text()}")
            if self.answers():
                return
            time.sleep(0.5)
        self.stop()
        pytest.fail(f"dpidm demo did not answer within {START_TIMEOUT} s:\n{self.log.read_text()}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as page:
                return page.status == 200
        except OSError:
            return False

    @property
    def root(self) -> Path:
        """The server's private folder (uploads, results, job folders)."""
        return next(self.temp.glob("dpidm-demo-*"))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    demo = DemoServer(tmp_path_factory.mktemp("demo"))
    yield demo
    demo.stop()


@pytest.fixture()
def artifacts(tmp_path_factory) -> Path:
    """Where the browser test saves its screenshot: $DPIDM_TEST_ARTIFACTS (CI sets it), else pytest's temp."""
    folder = Path(os.environ.get("DPIDM_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.timeout(2 * RUN_TIMEOUT)
def test_api_runs_the_example_queues_jobs_and_reports_a_bad_upload(server, tmp_path):
    client = Client(server.url, download_files=str(tmp_path / "downloads"), verbose=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a video\n")
    # Two jobs at once: the second (the text file) must wait in the queue while the example runs.
    good = client.submit(handle_file(str(VIDEO)), handle_file(str(GARMENT)), end_frame=FRAMES, api_name="/tryon")
    # The second job goes in only once the first one runs, so that it must wait behind it (not run first).
    deadline = time.monotonic() + RUN_TIMEOUT
    while good.status().code != Status.PROCESSING and not good.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    bad = client.submit(handle_file(str(notes)), handle_file(str(GARMENT)), api_name="/tryon")
    waiting, deadline = [], time.monotonic() + RUN_TIMEOUT
    while not good.done() and time.monotonic() < deadline:
        status = bad.status()
        if status.code == Status.IN_QUEUE and status.rank is not None:
            waiting.append((status.rank, status.queue_size))
        time.sleep(0.2)

    video, status_line, download, strip, pose, mask, agnostic = good.result(timeout=RUN_TIMEOUT)
    meta, source = probe_video(video), probe_video(VIDEO)
    assert meta.frame_count == FRAMES
    assert (meta.width, meta.height, round(meta.fps, 3)) == (source.width, source.height, round(source.fps, 3))
    assert status_line.startswith(f"{FRAMES} frames, {source.width}x{source.height}")
    assert Path(download).read_bytes() == Path(video).read_bytes()
    for side in (strip, pose, mask, agnostic):
        assert probe_video(side).frame_count == FRAMES
    assert waiting, "the second job was never seen waiting in the queue"
    assert waiting[0][1] >= 1

    with pytest.raises(AppError, match=r"^error: cannot read video notes\.txt: "):
        bad.result(timeout=60)
    too_big = tmp_path / "big.mp4"
    too_big.write_bytes(bytes(MAX_UPLOAD_MB * 2**20 + 1))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # refused while it is uploaded
        client.predict(handle_file(str(too_big)), handle_file(str(GARMENT)), api_name="/tryon")
    assert server.process.poll() is None and server.answers()
    again = Client(server.url, download_files=str(tmp_path / "downloads"), verbose=False)
    assert "/tryon" in again.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list((server.root / "jobs").iterdir()) == []  # each job's folder went with the job, done or failed


def test_a_video_longer_than_the_limit_is_refused_before_any_work():
    request = Request(video=VIDEO, garment=GARMENT)
    check_request(request, DemoConfig(max_frames=48))  # the example's own length passes
    with pytest.raises(InputError, match=r"^the video has 48 frames \(2\.0 s\); this demo takes at most 47 "):
        check_request(request, DemoConfig(max_frames=47))


def test_page_progress_follows_each_stage_on_one_bar():
    calls = []
    progress = PageProgress(lambda value, desc, **_: calls.append((value, desc)))
    with progress.task("pose", total=2) as advance:
        advance()
        advance()
    with progress.task("writing", total=None) as advance:
        advance(total=3)  # a stage that learns its length on the way
        advance(2)
    progress.note("no checkpoint: using the warp engine")
    assert calls == [
        ((0, 2), "pose"),
        ((1, 2), "pose"),
        ((2, 2), "pose"),
        ((0, None), "writing"),
        ((1, 3), "writing"),
        ((3, 3), "writing"),
    ]
    assert progress.notes == ["no checkpoint: using the warp engine"]


def _chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_browser_runs_the_example_by_clicking_while_a_second_tab_waits(server, artifacts):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    executable = _chromium() or pytest.skip("no Chromium on PATH (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        try:  # root (a CI container) cannot use Chromium's sandbox
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--no-sandbox"] if os.geteuid() == 0 else []
            )
        except sync_api.Error as err:
            pytest.skip(f"Chromium at {executable} does not start: {str(err).splitlines()[0]}")
        try:
            first, second = (browser.new_page(viewport={"width": 1280, "height": 900}) for _ in range(2))
            for page in (first, second):
                page.goto(server.url, timeout=60_000)
            first.get_by_text(EXAMPLE_LABEL).click(timeout=60_000)
            first.locator("#video video").wait_for(timeout=30_000)  # the example filled the upload
            first.locator("#end-frame input").fill(str(FRAMES))
            first.locator("#run").click()
            first.locator("#result").get_by_text("warping").wait_for(timeout=60_000)  # a stage the CLI shows too
            # The second tab asks with nothing uploaded: it waits its turn, seeing its place, then gets the error.
            second.locator("#run").click()
            second.locator("#result").get_by_text(re.compile(r"queue: \d+/\d+")).wait_for(timeout=10_000)
            second.get_by_text("error: give a person video").wait_for(timeout=RUN_TIMEOUT * 1000)
            first.locator("#result video").wait_for(timeout=RUN_TIMEOUT * 1000)
            status = first.locator("#status textarea").input_value(timeout=10_000)
            first.wait_for_timeout(1000)  # the result's first frame
            first.screenshot(path=str(artifacts / "demo.png"), full_page=True)
        finally:
            browser.close()
    assert status.startswith(f"{FRAMES} frames, ")
    assert (artifacts / "demo.png").stat().st_size > 10_000


def test_stopping_the_server_removes_every_file_it_made(server):
    """Runs last: uploads, results and job folders all lived in the server's private folder, gone with it."""
    assert server.stop() == 0, server.log.read_text()
    assert list(server.temp.iterdir()) == []


def test_a_busy_port_is_one_line_naming_port_before_gradio_is_imported():
    spy = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('gradio imported:', 'gradio' in sys.modules, file=sys.stderr))\n"
        "from tryon_cli.cli.main import run\n"
        "sys.argv = ['dpidm', *sys.argv[1:]]\n"
        "run()\n"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-c", spy, "demo", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 2, result.stderr[-3000:]
    assert lines[0].startswith(f"error: port {port} on 127.0.0.1 is in use") and "--port" in lines[0]
    assert lines[1] == "gradio imported: False"
