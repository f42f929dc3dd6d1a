"""The verified on-disk cache of a model's "q4" lean weights.

`cache_dir()/lean/<dir>-q4-<hash>/lean-q4.safetensors` holds what `lean_state(..., "q4")`
makes: the packed 4-bit matrices with their scales, the same weights rounded to bf16 for
reading prompts, the int8 output layer, norms in fp32. The hash covers the source
directory's manifest or its files' sizes and edges, and torch's version (the packed layout
belongs to its kernels), so a changed model gets a new cache; a cache that fails its manifest
check is rebuilt, never used. A start only maps the file. Import it only after torch is wanted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch

from tutor import modelstore, paths
from tutor.backends.lean_llama import lean_state, read_tensors
from tutor.backends.q4 import EXACT_ERROR

Q4_VERSION = 2  # bump when the cached q4 layout or quantization changes
Q4_FILE = "lean-q4.safetensors"


def q4_cache(model_dir: Path, progress: modelstore.LoadProgress | None = None) -> Path:
    """The verified q4 cache directory for `model_dir`, quantized now when missing or bad."""
    target = paths.cache_dir() / "lean" / f"{modelstore._safe_name(model_dir.name)}-q4-{_identity(model_dir)}"
    if modelstore.verify_cache(target):
        return target
    from safetensors.torch import save_file

    if progress is not None:
        progress("packing weights to 4 bits", 0, 1)

    def pack(folder: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        state = lean_state(config, read_tensors(model_dir), "q4")
        save_file({k: v.contiguous() for k, v in state.items()}, folder / Q4_FILE,
                  metadata={"q4_version": str(Q4_VERSION)})

    modelstore.build_cache(target, pack, source=model_dir)
    _remove_older_caches(target, model_dir)
    if progress is not None:
        progress("done", 1, 1)
    return target


def _remove_older_caches(current: Path, model_dir: Path) -> None:
    """Delete this model's caches of earlier layouts (older tutor or torch): they are never read again."""
    for cache in current.parent.iterdir():
        if cache == current or cache.name.startswith(".") or not cache.is_dir():
            continue
        try:
            source = json.loads((cache / modelstore.MANIFEST).read_text()).get("source")
        except (OSError, ValueError, AttributeError):
            continue
        if source == str(model_dir):
            shutil.rmtree(cache, ignore_errors=True)


def q4_is_exact(model_dir: Path, progress: modelstore.LoadProgress | None = None) -> bool:
    """True when `model_dir`'s layer matrices already sit on the q4 grid (a Q4_1 GGUF's do).

    Builds the q4 cache on first use; later calls read one scalar from it.
    """
    from safetensors import safe_open

    with safe_open(q4_cache(model_dir, progress) / Q4_FILE, "pt") as cache:
        return float(cache.get_tensor("q4_error")) <= EXACT_ERROR


def _identity(model_dir: Path) -> str:
    """A short hash of the model's manifest (a converted model) or of its files' sizes and edges.

    torch's version is in it too: the packed 4-bit layout belongs to its kernels.
    """
    digest = hashlib.sha256(f"q4-v{Q4_VERSION}-torch{torch.__version__}:".encode())
    manifest = model_dir / modelstore.MANIFEST
    if manifest.is_file():
        digest.update(manifest.read_bytes())
        return digest.hexdigest()[:12]
    for file in sorted([model_dir / "config.json", *model_dir.glob("*.safetensors")]):
        digest.update(f"{file.name}:{file.stat().st_size}:".encode())
        digest.update(modelstore._edges(file))
    return digest.hexdigest()[:12]
