"""`dpidm weights fetch sd15|dwpose`: the manifest entries that a Hugging Face Hub repo carries, downloaded with
huggingface_hub at the commit the manifest pins, checked, and only then moved into the weights folder.

What each file is checked against (docs/weights.md says why): the size and hash the hub reports for it at the
pinned commit (`model_info(files_metadata=True)`): for a file stored in LFS (every weight file) its size and
sha256, which the LFS pointer committed at that commit fixes; for a small file kept in git (config.json) its size
and git blob id (a sha1 of "blob SIZE\\0" + the bytes), which the commit fixes too.

Nothing half-written reaches the weights folder: every file of the group is downloaded into `.fetch/KEY/` inside
it (the same disk, so the final move is a rename; huggingface_hub itself writes each file to a `.incomplete` file
first and renames it when complete), all are checked, and only then are they moved into place. A file that fails
its check is deleted and nothing is moved. The staging folder outlives an interrupted run, and huggingface_hub's
`local_dir` bookkeeping does not download again a file finished there, so a second run continues with the files
that are left. A file that was in flight starts over: huggingface_hub (2.4, the version tested) writes it to a
temporary file unique to its process, which no later run reuses (a dropped connection within a run is resumed
with a Range request).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tryon_cli.errors import InputError
from tryon_cli.offline import allow_hub_downloads
from tryon_cli.progress import NullProgress
from tryon_cli.weights import HUB_GROUPS, WeightEntry, entry, hub_files, human_size, missing_files

STAGING = ".fetch"
"""Folder in the weights folder where downloads wait for their check (hidden: no entry lives there)."""
CHUNK = 1 << 20
MB = 1_000_000
"""The unit of the progress bars (bytes would make the done/total column unreadable)."""
POLL_S = 0.5
"""How often the download bar reads the staging folder's size (huggingface_hub's own bars are turned off)."""
DISK_HEADROOM = 64 << 20
"""Free space kept beyond the files themselves: huggingface_hub's bookkeeping, and room for the system."""


@dataclass(frozen=True)
class Expected:
    size: int
    digest: str
    kind: str
    """"sha256" (an LFS file), or "git-sha1" (the git blob id the hub reports for a file not in LFS)."""


@dataclass(frozen=True)
class Plan:
    """One entry to fetch: what the hub reports for each of its files at the pinned commit."""

    item: WeightEntry
    expected: dict[str, Expected]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.expected.values())


def file_digest(path: Path, kind: str, advance: Callable[[int], None] = lambda n: None) -> str:
    """sha256 of the bytes, or the git blob id (sha1 over "blob SIZE\\0" and the bytes); `advance(bytes)` per block."""
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
            advance(len(block))
    return digest.hexdigest()


def mismatch(path: Path, expected: Expected, advance: Callable[[int], None] = lambda n: None) -> str | None:
    """What is wrong with `path` against `expected` (size first: no hash of a truncated file), None when right."""
    if not path.is_file():
        return "not downloaded"
    size = path.stat().st_size
    if size != expected.size:
        return f"{size} bytes where the hub reports {expected.size}"
    found = file_digest(path, expected.kind, advance)
    if found != expected.digest:
        return f"{expected.kind} {found} where the hub reports {expected.digest}"
    return None


def fetch_group(name: str, root: Path, say: Callable[[str], None], progress=None) -> list[Path]:
    """Fetch every entry of `HUB_GROUPS[name]` not already present under `root`; the files placed. `progress`:
    the engines' Progress protocol (`task(description, total)` yielding `advance(n)`), for the download and the
    check, in MB."""
    progress = progress or NullProgress()
    items = []
    for key in HUB_GROUPS[name]:
        item = entry(key)
        if missing_files(item, root):
            items.append(item)
        else:
            say(f"{key}: already in {root / item.path}")
    if not items:
        return []
    allow_hub_downloads()
    plans = [Plan(item, _ask_hub(item)) for item in items]
    staging = root / STAGING
    _drop_partial(staging)
    _check_space(root, staging, plans)
    total = sum(plan.size for plan in plans)
    with progress.task(f"downloading {name} (MB)", -(-total // MB)) as advance, _watch(staging, advance):
        for plan in plans:
            _download(plan, staging / plan.item.key, root)
    with progress.task(f"checking {name} (MB)", -(-total // MB)) as advance:
        checked = _Counter(advance)
        for plan in plans:
            _check(plan, staging / plan.item.key, root, checked)
    placed = []
    for plan in plans:
        targets = hub_files(plan.item, root)
        for name_in_repo, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / plan.item.key / name_in_repo, target)
        shutil.rmtree(staging / plan.item.key)
        placed += targets.values()
        say(
            f"{plan.item.key}: placed {len(targets)} file(s) from {plan.item.hub_repo} at commit "
            f"{plan.item.hub_revision} in {root / plan.item.path} (sizes and hashes checked against the hub's)"
        )
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    return placed


class _Counter:
    """Turns byte counts into whole-MB steps of a progress bar."""

    def __init__(self, advance: Callable[..., None]):
        self.advance, self.bytes, self.shown = advance, 0, 0

    def __call__(self, n: int) -> None:
        self.bytes += n
        steps = self.bytes // MB - self.shown
        if steps > 0:
            self.advance(steps)
            self.shown += steps


@contextmanager
def _watch(folder: Path, advance: Callable[..., None]) -> Iterator[None]:
    """Advance the download bar by what `folder` grows, read every POLL_S in a thread: the partly downloaded
    (`.incomplete`) files count, so a resumed run starts the bar where the last one stopped."""
    stop = threading.Event()
    counter = _Counter(advance)

    def poll() -> None:
        while True:
            grown = _bytes_in(folder) - counter.bytes
            if grown > 0:
                counter(grown)
            if stop.wait(POLL_S):
                return

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _bytes_in(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except FileNotFoundError:  # moved from .incomplete to its name while we looked
            pass
    return total


def _drop_partial(staging: Path) -> None:
    """Delete the `.incomplete` files an interrupted run left: no later run reuses them (see above), so they would
    only fill the disk and count as downloaded."""
    if staging.is_dir():
        for path in staging.rglob("*.incomplete"):
            path.unlink(missing_ok=True)


def _check_space(root: Path, staging: Path, plans: list[Plan]) -> None:
    """Refuse before downloading when the disk holding `root` cannot take what is left to download."""
    needed = sum(plan.size for plan in plans) - (_bytes_in(staging) if staging.is_dir() else 0)
    existing = next(folder for folder in (root, *root.parents) if folder.exists())
    free = shutil.disk_usage(existing).free
    if needed + DISK_HEADROOM > free:
        raise InputError(
            f"not enough disk space in {root}: the fetch needs {human_size(needed + DISK_HEADROOM)} (with "
            f"{human_size(DISK_HEADROOM)} to spare) and {human_size(free)} are free; free some space, or fetch to "
            "another disk with --root DIR (then set DPIDM_WEIGHTS=DIR)"
        )


def _ask_hub(item: WeightEntry) -> dict[str, Expected]:
    """The expectation of every file of `item`, from the hub at the pinned commit."""
    from huggingface_hub import HfApi

    with _hub_errors(item):
        info = HfApi(endpoint=_endpoint()).model_info(item.hub_repo, revision=item.hub_revision, files_metadata=True)
    listed = {sibling.rfilename: sibling for sibling in info.siblings or ()}
    expected = {}
    for name in hub_files(item):
        sibling = listed.get(name)
        if sibling is None:
            raise InputError(f"{item.key}: {item.hub_repo} at commit {item.hub_revision} has no file {name}")
        if sibling.lfs is not None:
            expected[name] = Expected(sibling.lfs.size, sibling.lfs.sha256, "sha256")
        elif sibling.size is not None and sibling.blob_id:
            expected[name] = Expected(sibling.size, sibling.blob_id, "git-sha1")
        else:
            raise InputError(f"{item.key}: the hub reports no size or hash for {name} in {item.hub_repo}")
    return expected


def _download(plan: Plan, folder: Path, root: Path) -> None:
    """Exactly the files of `plan` into `folder`, at the pinned commit (unchecked)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # the bar is ours (`_watch`): one bar for the group instead of one per worker
    with _hub_errors(plan.item, root), warnings.catch_warnings():
        # Its per-file free-space warning (two lines of stderr) says what `_check_space` said first, or what the
        # error line for a disk that fills says after it.
        warnings.filterwarnings("ignore", message="Not enough free disk space")
        snapshot_download(
            plan.item.hub_repo,
            revision=plan.item.hub_revision,
            allow_patterns=list(plan.expected),
            local_dir=folder,
            endpoint=_endpoint(),
        )


def _check(plan: Plan, folder: Path, root: Path, advance: Callable[[int], None]) -> None:
    for name, expected in plan.expected.items():
        wrong = mismatch(folder / name, expected, advance)
        if wrong is not None:
            (folder / name).unlink(missing_ok=True)  # a rerun downloads it again instead of trusting it
            raise InputError(
                f"{plan.item.key}: {name} from {plan.item.hub_repo} at commit {plan.item.hub_revision[:12]} failed "
                f"its check ({wrong}); deleted, nothing placed in {root}: run the fetch again, and if it fails the "
                f"same way, download the file by hand from https://huggingface.co/{plan.item.hub_repo}"
            )


def _endpoint() -> str:
    # Read now, not when huggingface_hub was first imported (a test points it at a local server).
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


@contextmanager
def _hub_errors(item: WeightEntry, root: Path | None = None) -> Iterator[None]:
    """huggingface_hub's and the HTTP client's failures as one line saying what to do."""
    from huggingface_hub.errors import OfflineModeIsEnabled, RevisionNotFoundError

    by_hand = f"download it by hand from https://huggingface.co/{item.hub_repo} (see weights/README.md)"
    try:
        yield
    except OfflineModeIsEnabled:
        raise InputError(
            f"cannot fetch {item.key}: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set to 1 in your environment; "
            "unset it (or set it to 0) to let `dpidm weights fetch` download"
        ) from None
    except RevisionNotFoundError:
        raise InputError(
            f"cannot fetch {item.key}: {item.hub_repo} has no commit {item.hub_revision} (the one dpidm's manifest "
            f"pins); {by_hand}"
        ) from None
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(
                f"the disk holding {root} is full ({err.strerror}) while fetching {item.key}: nothing placed, what "
                f"was downloaded stays in {root / STAGING}; free some space and run the fetch again to continue"
            ) from None
        if isinstance(err, PermissionError):
            raise InputError(f"cannot write in {root}: {err}") from None
        raise InputError(_unreachable(item, err, by_hand)) from None
    except Exception as err:
        # huggingface_hub's HTTP errors subclass OSError (above); the HTTP client's own connection errors (refused,
        # DNS, TLS, timeout) come through unwrapped, from another package in each huggingface_hub generation
        # (requests, httpx): named by module.
        if type(err).__module__.split(".")[0] not in ("httpx", "httpx2", "requests", "urllib3", "httpcore"):
            raise
        raise InputError(_unreachable(item, err, by_hand)) from None


def _unreachable(item: WeightEntry, err: Exception, by_hand: str) -> str:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (
        f"cannot fetch {item.key} from {_endpoint()}/{item.hub_repo} ({reason}): the hub is unreachable or refused; "
        f"check the network (HF_ENDPOINT, HTTPS_PROXY), or {by_hand}; a rerun keeps what was downloaded"
    )
