"""Verified cache folders: built beside their place, marked complete by a manifest, checked on every use.

A cache folder is filled in a temporary folder and renamed into place; its manifest, written
last, records every file's size and hashes. A folder whose manifest is missing or does not
match is rebuilt, never used. `gguf_identity` names the folder a GGUF file converts into.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable

from tutor.errors import ModelError
from tutor.models.folder import check_safetensors

MANIFEST = "tutor-manifest.json"
CONVERTER_VERSION = 1  # bump when the conversion output changes: old caches are rebuilt
EDGE = 1 << 16  # bytes hashed at each end of a file for the cheap check on every load


def build_cache(target: Path, build: Callable[[Path], None], *, source: Path) -> Path:
    """Make `target` a verified cache directory: `build` fills a temporary folder beside it,
    a manifest marks it complete, and a rename puts it in place.

    A process that loses the race to another building the same cache uses the winner's.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target.parent)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        build(tmp)
        write_manifest(tmp, source=source)
        if target.exists():
            shutil.rmtree(target)  # the caller found it failing verification
        try:
            os.rename(tmp, target)
        except OSError:
            if not verify_cache(target):  # not another process finishing the same work
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def gguf_identity(gguf: Path) -> str:
    """A short hash of the GGUF file's size and edges and of the converter version."""
    digest = hashlib.sha256(f"v{CONVERTER_VERSION}:{gguf.stat().st_size}:".encode())
    digest.update(_edges(gguf))
    return digest.hexdigest()[:12]


def write_manifest(directory: Path, *, source: Path | None = None) -> None:
    """Record size and hashes of every file in `directory`; written last, so it marks completion."""
    files = {}
    for file in sorted(p for p in directory.iterdir() if p.is_file() and p.name != MANIFEST):
        files[file.name] = {
            "size": file.stat().st_size,
            "edges_sha256": hashlib.sha256(_edges(file)).hexdigest(),
            "sha256": _sha256(file),
        }
    manifest = {"converter": CONVERTER_VERSION, "source": str(source) if source else None, "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))


def verify_cache(directory: Path, *, deep: bool = False) -> bool:
    """True when `directory` matches its manifest: sizes and edge hashes (all bytes if `deep`)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        files = manifest["files"]
        if manifest.get("converter") != CONVERTER_VERSION or not files:
            return False
        for name, info in files.items():
            file = directory / name
            if file.stat().st_size != info["size"]:
                return False
            if hashlib.sha256(_edges(file)).hexdigest() != info["edges_sha256"]:
                return False
            if deep and _sha256(file) != info["sha256"]:
                return False
        for file in directory.glob("*.safetensors"):
            check_safetensors(file)
    except (OSError, ValueError, KeyError, TypeError, ModelError):
        return False
    return True


def _edges(file: Path) -> bytes:
    size = file.stat().st_size
    with open(file, "rb") as f:
        head = f.read(EDGE)
        f.seek(max(size - EDGE, 0))
        return head + f.read(EDGE)


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_stale_temporaries(directory: Path, older_than: float = 3600) -> None:
    """Delete conversions that crashed part-way (temporary dirs older than an hour)."""
    now = time.time()
    for tmp in directory.glob(".tmp-*"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass
