"""`dpidm weights fetch sd15` against a fake hub on 127.0.0.1 (tests/fake_hub.py), run as a user runs it: a
separate process with HF_ENDPOINT pointing at the fake, a temporary HF_HOME and no HF_HUB_OFFLINE of its own."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub
from tryon_cli.weights import HUB_GROUPS, entry, hub_files

REPO = Path(__file__).resolve().parents[1]
GROUP = [entry(key) for key in HUB_GROUPS["sd15"]]
BIG = "vae/diffusion_pytorch_model.safetensors"  # of sd15-inpainting, the first entry
LAST = "model.safetensors"  # CLIP's weights, in the last entry
EXTRA = ("README.md", "unet/diffusion_pytorch_model.fp16.safetensors")  # on the hub, not in the manifest
COMMITS = {item.hub_repo: item.hub_revision for item in GROUP}


def _repos() -> dict[str, dict[str, bytes]]:
    """The repos of the sd15 group with every file the manifest lists (a few KB of distinct bytes each)."""
    repos: dict[str, dict[str, bytes]] = {}
    for item in GROUP:
        files = repos.setdefault(item.hub_repo, {name: f"not listed: {name}".encode() for name in EXTRA})
        for i, name in enumerate(hub_files(item, Path("."))):
            files[name] = (f"{item.key}/{name} ".encode() * 300)[: 2000 + 97 * i]
    # One file over huggingface_hub's download chunk (10 MB), so that an interrupted download leaves bytes on disk.
    repos[GROUP[0].hub_repo][BIG] = bytes(range(256)) * (24 << 12)  # 24 MiB
    return repos


@pytest.fixture()
def hub():
    with FakeHub(_repos(), COMMITS) as server:
        yield server


def _command(root: Path, tmp_path: Path, endpoint: str, *args: str, **extra: str) -> tuple[list[str], dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf_home"), PYTHONPATH=str(REPO), NO_PROXY="127.0.0.1")
    env.update(extra)
    return [sys.executable, "-m", "tryon_cli", "weights", *args, "--root", str(root)], env


def fetch(root: Path, tmp_path: Path, endpoint: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    command, env = _command(root, tmp_path, endpoint, *args, **extra)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=90, check=False)


def _placed(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".fetch" not in p.parts}


def _listed(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for item in GROUP for path in hub_files(item, root).values()}


def _one_error(result: subprocess.CompletedProcess) -> str:
    """The command's one `error:` line, the last it printed (the progress bars may come before it)."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


def test_fetch_places_exactly_the_listed_files_at_the_pinned_commit_and_check_then_passes(hub, tmp_path):
    root = tmp_path / "weights"
    result = fetch(root, tmp_path, hub.url, "fetch", "sd15")
    assert result.returncode == 0, result.stderr
    assert _placed(root) == _listed(root) and not (root / ".fetch").exists()  # nothing of EXTRA, no staging left
    repos = _repos()
    for item in GROUP:
        for name, path in hub_files(item, root).items():
            assert path.read_bytes() == repos[item.hub_repo][name]
        assert f"{item.key}: placed" in result.stdout and item.hub_revision in result.stdout
    downloads = [path for method, path, _ in hub.log if method == "GET" and "/resolve/" in path]
    pinned = sorted(item.hub_revision for item in GROUP for _ in hub_files(item))
    assert sorted(path.split("/")[4] for path in downloads) == pinned  # /ORG/NAME/resolve/COMMIT/FILE
    check = fetch(root, tmp_path, hub.url, "--check", "train")
    assert check.returncode == 0 and "every required weight file is present" in check.stdout, check.stderr
    again = fetch(root, tmp_path, hub.url, "fetch", "sd15")  # present: nothing asked, nothing downloaded again
    assert again.returncode == 0 and again.stdout.count("already in") == 3
    assert len([p for m, p, _ in hub.log if m == "GET" and "/resolve/" in p]) == len(downloads) == 8


def test_a_corrupted_file_is_one_error_line_naming_it_and_nothing_of_the_group_is_placed(hub, tmp_path):
    root = tmp_path / "weights"
    hub.corrupt.add(LAST)  # in the last entry: the two good entries before it are not placed either
    result = fetch(root, tmp_path, hub.url, "fetch", "sd15")
    error = _one_error(result)
    assert f"clip-image-encoder: {LAST} from openai/clip-vit-large-patch14" in error
    assert "failed its check (sha256 " in error and "nothing placed" in error
    assert _placed(root) == set()
    staged = root / ".fetch"
    assert not (staged / "clip-image-encoder" / LAST).exists()  # the bad file is not kept ...
    assert (staged / "sd15-inpainting" / BIG).stat().st_size == len(_repos()[GROUP[0].hub_repo][BIG])  # ... the rest is


def _partial(root: Path) -> dict[Path, int]:
    """The partly downloaded files in the staging folder, with their sizes."""
    sizes = {}
    for path in (root / ".fetch").rglob("*.incomplete"):
        try:
            sizes[path] = path.stat().st_size
        except FileNotFoundError:  # renamed when complete while we looked
            pass
    return sizes


def test_an_interrupted_fetch_continues_with_the_files_it_had_not_finished(hub, tmp_path):
    root = tmp_path / "weights"
    hub.stall.add(BIG)  # half of it is sent, then the server waits: the run is stopped
    command, env = _command(root, tmp_path, hub.url, "fetch", "sd15")
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, then a job scheduler stopping the next try
        before = set(_partial(root))
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not [p for p, size in _partial(root).items() if size >= 10 << 20 and p not in before]:
            assert time.monotonic() < deadline and run.poll() is None, run.communicate()
            time.sleep(0.1)
        run.send_signal(signum)
        _, err = run.communicate(timeout=30)
        assert run.returncode == 128 + signum and f"interrupted ({signum.name}): nothing placed" in err, err
        assert _placed(root) == set()
        assert len(_partial(root)) == 1  # the last run's partial file only: none piles up

    hub.stall.clear()
    second = fetch(root, tmp_path, hub.url, "fetch", "sd15")
    assert second.returncode == 0, second.stderr
    assert hub.gets("vae/config.json") == [None]  # finished in the first run: not downloaded again
    assert hub.gets(BIG) == [None] * 3  # in flight when stopped: downloaded again, whole
    assert _placed(root) == _listed(root) and not (root / ".fetch").exists()
    assert hub_files(GROUP[0], root)[BIG].read_bytes() == _repos()[GROUP[0].hub_repo][BIG]


def test_not_enough_disk_space_is_refused_before_anything_is_downloaded(hub, tmp_path):
    hub.reported_size[BIG] = 1 << 60  # the hub says the file is an exabyte
    result = fetch(tmp_path / "weights", tmp_path, hub.url, "fetch", "sd15")
    error = _one_error(result)
    assert "not enough disk space in " + str(tmp_path / "weights") in error and "--root" in error
    assert hub.gets(BIG) == [] and not [p for _, p, _ in hub.log if "/resolve/" in p]


def test_a_disk_that_fills_during_the_download_is_one_line_keeping_what_was_downloaded(tmp_path, monkeypatch):
    import huggingface_hub

    from tryon_cli import hub_fetch
    from tryon_cli.errors import InputError

    def disk_full(*args, **kwargs):
        warnings.warn("Not enough free disk space to download the file. ...")  # as huggingface_hub does first
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(hub_fetch, "_ask_hub", lambda item: {})
    monkeypatch.setattr(hub_fetch, "allow_hub_downloads", lambda: None)  # keeps this process's HF_HUB_OFFLINE as is
    monkeypatch.setattr(huggingface_hub, "snapshot_download", disk_full)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r"the disk holding .* is full \(No space left on device\) while"):
            hub_fetch.fetch_group("sd15", tmp_path, print)
    assert shown == []  # the error line says it all


def test_no_hub_is_one_error_line_saying_so_and_how_to_copy_by_hand(tmp_path):
    with FakeHub({}, {}) as down:
        url = down.url  # stopped: nothing listens there
    root = tmp_path / "weights"
    error = _one_error(fetch(root, tmp_path, url, "fetch", "sd15"))
    assert error.startswith("error: cannot fetch sd15-inpainting from " + url) and "unreachable" in error
    assert "check the network" in error and "by hand from https://huggingface.co/" in error
    assert "weights/README.md" in error
    assert not root.exists() or _placed(root) == set()


def test_a_pinned_commit_the_hub_lacks_is_named(tmp_path):
    with FakeHub(_repos(), {repo: "f" * 40 for repo in COMMITS}) as hub:
        error = _one_error(fetch(tmp_path / "weights", tmp_path, hub.url, "fetch", "sd15"))
    assert f"has no commit {GROUP[0].hub_revision} (the one dpidm's manifest pins)" in error


def test_offline_set_by_the_user_is_respected_and_named(hub, tmp_path):
    error = _one_error(fetch(tmp_path / "weights", tmp_path, hub.url, "fetch", "sd15", HF_HUB_OFFLINE="1"))
    assert "HF_HUB_OFFLINE" in error and "set it to 0" in error
    assert hub.log == []  # not one request


def test_an_unknown_name_is_one_line_listing_what_can_be_fetched(tmp_path):
    from typer.testing import CliRunner

    from tryon_cli.cli.main import app

    result = CliRunner().invoke(app, ["weights", "fetch", "sd14", "--root", str(tmp_path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "'sd14': dpidm can fetch lpips, sd15, dwpose" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_git_file_is_checked_by_its_blob_id_and_a_weight_by_size_then_sha256(tmp_path):
    """The two kinds of expectation, without a server, against git's own blob id as the independent reference."""
    import hashlib
    import shutil

    from tryon_cli.hub_fetch import Expected, mismatch

    config = b'{"in_channels": 9}\n'
    (tmp_path / "config.json").write_bytes(config)
    if shutil.which("git") is None:
        pytest.skip("git computes the reference blob id")
    blob = subprocess.run(["git", "hash-object", str(tmp_path / "config.json")], capture_output=True, text=True)
    expected = Expected(len(config), blob.stdout.strip(), "git-sha1")
    assert mismatch(tmp_path / "config.json", expected) is None
    (tmp_path / "config.json").write_bytes(config.replace(b"9", b"4"))  # same size, one byte changed
    assert "git-sha1" in mismatch(tmp_path / "config.json", expected)

    weights = b"weights" * 100
    (tmp_path / "w.safetensors").write_bytes(weights[:-1])
    expected = Expected(len(weights), hashlib.sha256(weights).hexdigest(), "sha256")
    assert mismatch(tmp_path / "w.safetensors", expected) == f"{len(weights) - 1} bytes where the hub reports 700"


def test_dwpose_places_the_two_onnx_files_where_the_manifest_says(tmp_path):
    """The DWPose entries are single files (not folders): each lands at its own path, the repo's others do not."""
    pair = [entry(key) for key in HUB_GROUPS["dwpose"]]
    files = {path.name: path.name.encode() * 50 for item in pair for path in hub_files(item, tmp_path).values()}
    files["README.md"] = b"not listed"
    with FakeHub({pair[0].hub_repo: files}, {pair[0].hub_repo: pair[0].hub_revision}) as hub:
        root = tmp_path / "weights"
        result = fetch(root, tmp_path, hub.url, "fetch", "dwpose")
    assert result.returncode == 0, result.stderr
    assert _placed(root) == {"dwpose/yolox_l.onnx", "dwpose/dw-ll_ucoco_384.onnx"}
    assert all((root / item.path).read_bytes() == files[Path(item.path).name] for item in pair)
