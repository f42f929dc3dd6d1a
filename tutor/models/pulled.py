"""The pulled-models cache: which GGUF files `tutor pull` stored, and how `--model` text names them.

Layout: `cache_dir()/models/pulled/<owner>--<name>/<file>` with a record `<file>.json` beside it
(repo, file, revision, commit, size, sha256, pulled_at). A file counts as pulled only when its
record is sound and the file has the recorded size; `tutor pull` writes the record after the
sha256 check passed, so a half-downloaded or unverified file is never used.

Cheap on purpose (no huggingface_hub, no hashing): model lookup runs it on every start.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from tutor import paths
from tutor.files import atomic_write
from tutor.errors import PullError
from tutor.models.suggested import SUGGESTED

DEFAULT_QUANT = "q4_k_m"  # what `tutor pull` takes when a repo offers several files
RECORD_SUFFIX = ".json"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


@dataclass(frozen=True)
class PulledModel:
    """A GGUF file in the cache whose record says it was pulled and verified."""

    repo: str
    file: str
    path: Path
    size: int
    sha256: str


def pulled_dir() -> Path:
    return paths.cache_dir() / "models" / "pulled"


def repo_dir(repo: str) -> Path:
    """Hub repo ids never contain "--", so `owner--name` names one repo unambiguously."""
    return pulled_dir() / repo.replace("/", "--")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`qwen2.5-3b`, `owner/name` or `owner/name:file.gguf` -> (repo, file or None).

    Raises:
        PullError: the text is none of those.
    """
    spec = spec.strip()
    if spec.lower() in SUGGESTED:
        model = SUGGESTED[spec.lower()]
        return model.repo, model.file
    repo, colon, file = spec.partition(":")
    if not _REPO_ID.fullmatch(repo) or "--" in repo or ".." in repo:
        names = ", ".join(SUGGESTED)
        raise PullError(f"{spec!r} is not a Hugging Face repo id (owner/name) or a suggested model ({names})")
    if colon:
        check_file_name(file)
    return repo, file or None


def find_pulled(spec: str) -> Path | None:
    """The pulled file that `--model` text names, if it is in the cache and intact.

    `spec` is a suggested name, a repo id, or `REPO:FILE` (repo ids match case-insensitively,
    as on the Hub). For a bare repo id with several pulled files, the Q4_K_M one wins, else
    the one pulled last. Anything else (a path, an unknown name) gives None.
    """
    try:
        repo, file = parse_spec(spec)
    except PullError:
        return None
    matches = [m for m in list_pulled() if m.repo.lower() == repo.lower() and (file is None or m.file == file)]
    if not matches:
        return None
    matches.sort(key=lambda m: (DEFAULT_QUANT in m.file.lower(), m.path.stat().st_mtime), reverse=True)
    return matches[0].path


def list_pulled() -> list[PulledModel]:
    """Every pulled model whose file is present with its recorded size, by repo and file name."""
    root = pulled_dir()
    if not root.is_dir():
        return []
    found = (read_record(record) for record in sorted(root.glob(f"*/*{RECORD_SUFFIX}")))
    return [model for model in found if model is not None]


def record_path(target: Path) -> Path:
    return target.with_name(target.name + RECORD_SUFFIX)


def write_record(target: Path, *, repo: str, file: str, revision: str, commit: str, size: int, sha256: str) -> None:
    """Say that `target` is `file` of `repo` at `commit`, verified: call only after the hash check."""
    record = {
        "repo": repo,
        "file": file,
        "revision": revision,
        "commit": commit,
        "size": size,
        "sha256": sha256,
        "pulled_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(record_path(target), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_record(path: Path) -> PulledModel | None:
    """The record's model if the record is sound and the file beside it has the recorded size."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        repo, file, size, sha256 = record["repo"], record["file"], record["size"], record["sha256"]
        if not (isinstance(repo, str) and isinstance(file, str) and isinstance(size, int) and isinstance(sha256, str)):
            return None
        target = path.with_name(path.name.removesuffix(RECORD_SUFFIX))
        if target.name != local_name(file) or target.stat().st_size != size:
            return None
    except (OSError, ValueError, KeyError, TypeError, PullError):
        return None
    return PulledModel(repo, file, target, size, sha256)


def local_name(file: str) -> str:
    """The cache's name for a repo file: a file in a repo folder stays one flat name."""
    check_file_name(file)
    return file.replace("/", "--")


def check_file_name(file: str) -> None:
    """Refuse names that could leave the repo's folder: the server, not us, chose them."""
    parts = PurePosixPath(file).parts
    if not file or file.startswith("/") or "\\" in file or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise PullError(f"{file!r} is not a file name inside a repo")
