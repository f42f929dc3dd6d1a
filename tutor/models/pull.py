"""`tutor pull`: one GGUF file from the Hugging Face Hub into tutor's cache, resumable and verified.

Where files go and how `--model` finds them again is `tutor.models.pulled`; which file to take is
`tutor.models.hub_files`; this module fetches.

Bytes arrive in a hidden `.<file>.<hash>.part` file that survives an interrupted run, so the
next `tutor pull` continues it with an HTTP Range request. huggingface_hub's `hf_hub_download`
cannot do that any more (it writes to a per-process temporary file and deletes it on failure),
so this module drives its lower-level `http_get`, which keeps its in-process retries: a dropped
connection resumes at once. `http_get` writes in 10 MiB chunks, so an interruption loses up to
the last 10 MiB.

huggingface_hub is imported inside the functions that talk to the Hub, so importing this module
(for `find_pulled`) stays cheap.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tutor.errors import PullError
from tutor.models.hub_errors import disk_error, hub_error, refuse_offline
from tutor.models.hub_files import RemoteFile, remote_file
from tutor.models.pulled import (
    PulledModel,
    check_file_name,
    find_pulled,
    list_pulled,
    local_name,
    parse_spec,
    read_record,
    record_path,
    repo_dir,
    write_record,
)
from tutor.sizes import human_size

__all__ = ["PullProgress", "PulledModel", "find_pulled", "list_pulled", "parse_spec", "pull"]

_HASH_BLOCK = 1 << 20
_FREE_SPACE_MARGIN = 64 << 20  # keep a little room for the record and the rest of the system


class PullProgress(Protocol):
    """Told how a pull advances. `stage` is "download" or "verify"; `done` of `total` bytes."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


def pull(
    spec: str,
    *,
    file: str | None = None,
    revision: str = "main",
    endpoint: str | None = None,
    progress: PullProgress | None = None,
) -> PulledModel:
    """Download `spec` (see `parse_spec`) into the cache, or find it there already, verified.

    Args:
        file: the GGUF file to take; the default is chosen by `choose_gguf`.
        endpoint: the hub's address; `HF_ENDPOINT` or huggingface.co when None.
        progress: told about the download and the sha256 check.

    Raises:
        PullError: offline, not found, nothing to choose, disk full or unwritable, hash mismatch,
            or the connection failed (a partial download is kept for the next run).
    """
    repo, named_file = parse_spec(spec)
    if file is not None and named_file is not None and file != named_file:
        raise PullError(f"{spec} already names the file {named_file}; drop --file {file}")
    wanted = file or named_file
    if wanted is not None:
        check_file_name(wanted)
    refuse_offline()
    remote = remote_file(repo, wanted, revision, endpoint)
    return _fetch_verified(remote, endpoint, progress)


def _fetch_verified(remote: RemoteFile, endpoint: str | None, progress: PullProgress | None) -> PulledModel:
    directory = repo_dir(remote.repo)
    target = directory / local_name(remote.file)
    ready = _already_pulled(target, remote)
    if ready is not None:
        return ready
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PullError(f"cannot create {directory}: {exc.strerror}; set TUTOR_HOME to a writable folder") from None
    key = (remote.sha256 or remote.git_sha1 or "")[:16]
    partial = directory / f".{target.name}.{key}.part"
    with _only_puller(directory / f".{target.name}.lock", remote.file):
        for stale in directory.glob(f".{glob.escape(target.name)}.*.part"):
            if stale != partial:
                stale.unlink(missing_ok=True)  # left by an older revision of the file
        done = partial.stat().st_size if partial.exists() else 0
        if done > remote.size:
            partial.unlink()
            done = 0
        _check_free_space(directory, remote.size - done, remote.file)
        if done < remote.size:
            _download(remote, partial, done, endpoint, progress)
        sha256 = _verify(partial, remote, progress)
        try:
            os.replace(partial, target)
            write_record(
                target,
                repo=remote.repo,
                file=remote.file,
                revision=remote.revision,
                commit=remote.commit,
                size=remote.size,
                sha256=sha256,
            )
        except OSError as exc:
            raise disk_error(exc, target) from None
    return PulledModel(remote.repo, remote.file, target, remote.size, sha256)


def _download(remote: RemoteFile, partial: Path, done: int, endpoint: str | None, progress: PullProgress | None) -> None:
    import httpx2
    from huggingface_hub import hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(remote.repo, remote.file, revision=remote.commit, endpoint=endpoint)

    def progress_bar(**bar: Any) -> _ProgressBar:
        return _ProgressBar(progress, remote.size, bar.get("initial", 0))

    try:
        with open(partial, "ab") as out:
            http_get(
                url,
                out,
                resume_size=done,
                headers=build_hf_headers(),
                expected_size=remote.size,
                displayed_filename=remote.file,
                tqdm_class=progress_bar,  # any callable returning a context manager with update(n)
            )
    except (HfHubHTTPError, httpx2.HTTPError, ConnectionError) as exc:
        raise hub_error(exc, remote.repo, remote.revision, resumable=True) from None
    except OSError as exc:
        if exc.errno is None:  # http_get's own "Consistency check failed": fewer bytes than promised
            raise PullError(f"the download of {remote.file} ended early; run the same command again to resume") from None
        raise disk_error(exc, partial) from None


class _ProgressBar:
    """The part of tqdm's interface that huggingface_hub's `http_get` uses, reporting to a PullProgress."""

    def __init__(self, progress: PullProgress | None, total: int, initial: int) -> None:
        self.progress = progress
        self.total = total
        self.done = initial
        self._report()

    def update(self, n: int = 1) -> None:
        self.done += n  # negative when the server ignored a Range request and the file restarts
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress("download", self.done, self.total)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _verify(partial: Path, remote: RemoteFile, progress: PullProgress | None) -> str:
    """The sha256 of the downloaded bytes, after checking them against the hub; a bad file is deleted."""
    actual_size = partial.stat().st_size
    sha256, git_sha1 = hashlib.sha256(), hashlib.sha1(f"blob {actual_size}\0".encode())
    done = 0
    with open(partial, "rb") as data:
        while block := data.read(_HASH_BLOCK):
            sha256.update(block)
            if remote.sha256 is None:
                git_sha1.update(block)
            done += len(block)
            if progress is not None:
                progress("verify", done, actual_size)
    expected, actual = (remote.sha256, sha256.hexdigest()) if remote.sha256 else (remote.git_sha1, git_sha1.hexdigest())
    if actual_size != remote.size or actual != expected:
        partial.unlink(missing_ok=True)
        raise PullError(
            f"{remote.file} from {remote.repo} does not match the hub's checksum "
            f"(expected {str(expected)[:12]}…, got {actual[:12]}…, {actual_size} of {remote.size} bytes); "
            "the download was deleted, run the command again"
        )
    return sha256.hexdigest()


def _already_pulled(target: Path, remote: RemoteFile) -> PulledModel | None:
    model = read_record(record_path(target))
    if model is not None and remote.sha256 is not None and model.sha256 == remote.sha256:
        return model
    return None


def _check_free_space(directory: Path, needed: int, file: str) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + _FREE_SPACE_MARGIN:
        raise PullError(
            f"not enough disk space for {file}: it needs {human_size(needed)} more and {directory} has {human_size(free)} free; "
            "free some space or set TUTOR_HOME elsewhere"
        )


@contextmanager
def _only_puller(lock_path: Path, file: str) -> Iterator[None]:
    """Two pulls appending to one partial file would corrupt it: the second one stops instead."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; the sha256 check still catches a mix-up
        yield
        return
    try:
        handle = open(lock_path, "w")
    except OSError as exc:
        raise disk_error(exc, lock_path) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"another tutor pull is downloading {file} now; wait for it to finish") from None
        yield
