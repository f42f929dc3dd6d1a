"""A loopback stand-in for the Hugging Face Hub, for `tutor pull` tests.

It speaks the two calls huggingface_hub makes for a pull (read from its code, version 2.4):

- `GET /api/models/{owner}/{name}[/revision/{rev}]` (`HfApi.model_info`, `?blobs=true`): the
  repo's commit `sha` and `siblings`, each with `rfilename`, `size`, `blobId` and, for LFS
  files, `lfs: {size, sha256, pointerSize}`. An unknown repo or revision is a 404 with the
  `X-Error-Code` header (`RepoNotFound`, `RevisionNotFound`) that huggingface_hub maps to its
  exception classes.
- `GET /{owner}/{name}/resolve/{rev}/{file}` (`file_download.http_get`): the bytes, with
  `Content-Length`, `X-Repo-Commit` and `ETag`, and `206 Partial Content` for `Range: bytes=N-`.

Faults are queued per download: `hub.faults.append(Fault(drop_after=N))` sends N bytes of the
body and closes the connection; `Fault(status=503)` answers with that status instead.
`HubFile(corrupt=True)` serves bytes that differ from the listed sha256 (same length).
Every request is recorded in `hub.requests` as (method, path, Range header or None).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class HubFile:
    data: bytes
    lfs: bool = True
    corrupt: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def served(self) -> bytes:
        if not self.corrupt:
            return self.data
        return bytes([self.data[0] ^ 0xFF]) + self.data[1:]


@dataclass
class HubRepo:
    files: dict[str, HubFile]
    commit: str = "c0ffee" + "0" * 34


@dataclass(frozen=True)
class Fault:
    drop_after: int | None = None
    status: int | None = None


@dataclass
class FakeHub:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""

    def add(self, repo: str, files: dict[str, bytes | HubFile]) -> HubRepo:
        entry = HubRepo({name: f if isinstance(f, HubFile) else HubFile(f) for name, f in files.items()})
        self.repos[repo] = entry
        return entry

    def downloads(self) -> list[tuple[str, str | None]]:
        """(path, Range header) of every file download so far."""
        return [(path, rng) for method, path, rng in self.requests if method == "GET" and "/resolve/" in path]


def _siblings(repo: HubRepo) -> list[dict]:
    out = []
    for name, f in sorted(repo.files.items()):
        entry: dict = {"rfilename": name, "size": len(f.data)}
        if f.lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{f.sha256}\nsize {len(f.data)}\n"
            entry["blobId"] = hashlib.sha1(pointer.encode()).hexdigest()
            entry["lfs"] = {"size": len(f.data), "sha256": f.sha256, "pointerSize": len(pointer)}
        else:
            entry["blobId"] = hashlib.sha1(b"blob %d\0" % len(f.data) + f.data).hexdigest()
        out.append(entry)
    return out


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                self._model_info("/".join(parts[2:4]), parts[5] if len(parts) >= 6 and parts[4] == "revision" else "main")
            elif len(parts) >= 5 and parts[2] == "resolve":
                self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body=body)
            else:
                self._error(404, "EntryNotFound")

        def _repo(self, repo_id: str, revision: str) -> HubRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound")
            elif revision not in ("main", repo.commit):
                self._error(404, "RevisionNotFound")
                return None
            return repo

        def _model_info(self, repo_id: str, revision: str) -> None:
            repo = self._repo(repo_id, revision)
            if repo is not None:
                payload = {"id": repo_id, "sha": repo.commit, "siblings": _siblings(repo)}
                self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

        def _resolve(self, repo_id: str, revision: str, name: str, *, body: bool) -> None:
            repo = self._repo(repo_id, revision)
            if repo is None:
                return
            if name not in repo.files:
                self._error(404, "EntryNotFound")
                return
            fault = hub.faults.popleft() if body and hub.faults else Fault()
            if fault.status is not None:
                self._error(fault.status, None)
                return
            f = repo.files[name]
            data, start = f.served, 0
            headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{f.sha256}"', "Accept-Ranges": "bytes"}
            status = 200
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes=") and ranged.endswith("-"):
                start = int(ranged[len("bytes=") : -1])
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            chunk = data[start:]
            if fault.drop_after is not None:
                self._send(status, chunk[: fault.drop_after], headers, length=len(chunk), body=body)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self._send(status, chunk, headers, body=body)

        def _error(self, status: int, code: str | None) -> None:
            headers = {"Content-Type": "application/json"}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, json.dumps({"error": code or "failure"}).encode(), headers)

        def _send(self, status: int, payload: bytes, headers: dict, *, length: int | None = None, body: bool = True) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload) if length is None else length))
            self.end_headers()
            if body:
                self.wfile.write(payload)

    return Handler


class running_hub:
    """`with running_hub(hub) as url:` serves `hub` on 127.0.0.1 for the block."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        self.server.daemon_threads = True

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.hub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.hub.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def write_gguf(path: Path, *, name: str, values: int = 256) -> bytes:
    """A small valid GGUF file (one float32 tensor of `values` numbers) built with `gguf`; returns its bytes."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_tensor("token_embd.weight", np.arange(values, dtype=np.float32).reshape(-1, 16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()
