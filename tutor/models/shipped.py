"""Shipped GGUF models: find their wheel files, assemble split ones once, trust only the hash.

The parts are found through `importlib.metadata` (the packages are never imported). A split
model is concatenated into `cache_dir()/models/gguf/<file>` through a temporary file that is
hashed while it is written and renamed into place only when its size and sha256 match the
pin in `catalog.py`, so a half-written or tampered file is never used. A small record beside
it remembers the verified file's size and mtime, so later starts skip the 1 GB re-hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

from tutor import paths
from tutor.errors import ModelError
from tutor.models.catalog import ShippedModel
from tutor.models.progress import LoadProgress

CHUNK = 1 << 22


def gguf_cache() -> Path:
    return paths.cache_dir() / "models" / "gguf"


def part_paths(model: ShippedModel) -> list[Path]:
    """The installed part files in order.

    Raises:
        ModelError: a wheel or its file is missing; says how to install them.
    """
    found, missing = [], []
    for dist, relative in model.parts:
        try:
            path = Path(str(metadata.distribution(dist).locate_file(relative)))
        except metadata.PackageNotFoundError:
            path = None
        if path is None or not path.is_file():
            missing.append(dist)
        else:
            found.append(path)
    if missing:
        which = missing[0] if len(missing) == 1 else f"{len(missing)} of its {len(model.parts)} parts"
        raise ModelError(
            f"The offline model {model.name} ({model.title}) is not installed ({which} missing): "
            f"run  {model.install_hint}  or pick another with --model (see `tutor models`)"
        )
    return found


def is_ready(model: ShippedModel) -> bool:
    """True when the model's verified file exists (no hashing, no assembly)."""
    try:
        target = _target(model, part_paths(model))
    except ModelError:
        return False
    return _verified(target, model)


def shipped_gguf(model: ShippedModel, progress: LoadProgress | None = None) -> Path:
    """The model's GGUF file, verified against its pinned size and sha256.

    Raises:
        ModelError: a part is missing, the bytes do not match the pin, or the cache is not writable.
    """
    parts = part_paths(model)
    target = _target(model, parts)
    if _verified(target, model):
        return target
    if len(parts) == 1:  # used in place: only its hash needs checking
        _check_hash(model, _hash_file(parts[0], model, progress), where=parts[0])
    else:
        _assemble(model, parts, target, progress)
    _write_record(target, model)
    return target


def _target(model: ShippedModel, parts: list[Path]) -> Path:
    return parts[0] if len(parts) == 1 else gguf_cache() / model.file_name


def _record_path(model: ShippedModel) -> Path:
    return gguf_cache() / f"{model.file_name}.verified.json"


def _verified(target: Path, model: ShippedModel) -> bool:
    try:
        record = json.loads(_record_path(model).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return record == _fingerprint(target, stat, model)


def _fingerprint(target: Path, stat: os.stat_result, model: ShippedModel) -> dict:
    return {"path": str(target), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}


def _write_record(target: Path, model: ShippedModel) -> None:
    try:
        gguf_cache().mkdir(parents=True, exist_ok=True)
        _record_path(model).write_text(json.dumps(_fingerprint(target, target.stat(), model)))
    except OSError:
        pass  # only a speed-up: the next start verifies the hash again


def _check_hash(model: ShippedModel, digest: str, *, where: Path) -> None:
    if digest != model.sha256:
        raise ModelError(
            f"The {model.name} model file does not match its pinned sha256 ({where}): the wheels "
            f"hold other bytes than the published model. Reinstall them:  {model.install_hint}"
        )


def _hash_file(path: Path, model: ShippedModel, progress: LoadProgress | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(f"checking {model.name}", done, model.size)
    return digest.hexdigest()


def _assemble(model: ShippedModel, parts: list[Path], target: Path, progress: LoadProgress | None) -> None:
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelError(
            f"The {model.name} parts add up to {total:,} bytes, not {model.size:,}: "
            f"reinstall them:  {model.install_hint}"
        )
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}")
    digest = hashlib.sha256()
    done = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"assembling {model.name}", done, total)
            out.flush()
            os.fsync(out.fileno())
        _check_hash(model, digest.hexdigest(), where=tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"Cannot write the {model.name} model to {target.parent}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
