"""A tiny stand-in for the Hugging Face Hub on 127.0.0.1, for `dpidm weights fetch` tests without a network.

It answers only what huggingface_hub asks in that flow: the repo info at a revision with file metadata
(`/api/models/REPO/revision/REV?blobs=True`), the recursive file listing `snapshot_download` reads
(`/api/models/REPO/tree/REV`), and HEAD and GET of `/REPO/resolve/REV/PATH` with the headers the hub sends
(X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size) and Range requests (206). Each repo has one commit (`commits`);
another revision is answered as the hub does (404, X-Error-Code RevisionNotFound). Files whose name ends in
.safetensors or .onnx are reported as LFS files (size and sha256), the others as git files (size and blob id).

Faults, per file name: `corrupt` serves other bytes of the same size than the metadata reports; `drop_once` sends
half of the body and closes the connection on the first GET; `stall` sends half of the body and then waits (a
download to interrupt from outside); `missing` answers 404; `reported_size` is the size the metadata claims
instead of the real one. `log` records every request as (method, path, Range header). The server stops itself
after `lifetime` seconds at the latest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".onnx")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], commits: dict[str, str], lifetime: float = 120.0):
        self.repos, self.commits = repos, commits
        self.corrupt: set[str] = set()
        self.drop_once: set[str] = set()
        self.stall: set[str] = set()
        self.missing: set[str] = set()
        self.reported_size: dict[str, int] = {}
        self.log: list[tuple[str, str, str | None]] = []
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def gets(self, name: str) -> list[str | None]:
        """The Range header of each GET of the file `name` (any repo, any revision)."""
        return [
            ranged
            for method, seen, ranged in self.log
            if method == "GET" and "/resolve/" in seen and seen.split("/", 5)[-1] == name
        ]

    def _sibling(self, name: str, data: bytes) -> dict:
        size = self.reported_size.get(name, len(data))
        if name.endswith(LFS_SUFFIXES):
            return {"size": size, "blobId": git_blob_id(data), "lfs": self._lfs(data, size, "sha256")}
        return {"size": size, "blobId": git_blob_id(data)}

    @staticmethod
    def _lfs(data: bytes, size: int, key: str) -> dict:
        return {key: hashlib.sha256(data).hexdigest(), "size": size, "pointerSize": 134}

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._answer(body=True)

            def do_HEAD(self):
                self._answer(body=False)

            def _json(self, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self, code: str) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.log.append((self.command, path, self.headers.get("Range")))
                for repo, files in hub.repos.items():
                    commit = hub.commits[repo]
                    for prefix in (f"/api/models/{repo}/revision/", f"/api/models/{repo}/tree/", f"/{repo}/resolve/"):
                        if not path.startswith(prefix):
                            continue
                        revision, _, name = path[len(prefix) :].partition("/")
                        if revision != commit:
                            return self._not_found("RevisionNotFound")
                        if prefix.endswith("/revision/"):
                            siblings = [{"rfilename": n, **hub._sibling(n, data)} for n, data in files.items()]
                            return self._json({"id": repo, "sha": commit, "siblings": siblings})
                        if prefix.endswith("/tree/"):
                            return self._json([self._tree_item(n, data) for n, data in files.items()])
                        if name in files and name not in hub.missing:
                            return self._file(commit, name, files[name], body)
                        return self._not_found("EntryNotFound")
                self._not_found("RepoNotFound")

            @staticmethod
            def _tree_item(name: str, data: bytes) -> dict:
                item = {"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                if name.endswith(LFS_SUFFIXES):
                    item["lfs"] = hub._lfs(data, len(data), "oid")
                return item

            def _file(self, commit: str, name: str, data: bytes, body: bool) -> None:
                sibling = hub._sibling(name, data)
                etag = sibling["lfs"]["sha256"] if "lfs" in sibling else sibling["blobId"]
                if name in hub.corrupt:
                    data = bytes(255 - b for b in data)  # same size, other bytes
                start = 0
                ranged = self.headers.get("Range")
                if ranged and ranged.startswith("bytes=") and ranged.endswith("-"):
                    start = int(ranged[len("bytes=") : -1])
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{etag}"')
                if "lfs" in sibling:
                    self.send_header("X-Linked-Etag", f'"{etag}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if not body:
                    return
                half = start + (len(data) - start) // 2
                if name in hub.drop_once or name in hub.stall:
                    hub.drop_once.discard(name)
                    self.wfile.write(data[start:half])
                    self.wfile.flush()
                    if name in hub.stall:
                        hub._stop.wait()
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

        return Handler
