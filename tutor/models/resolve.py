"""What `--model` names, for the local backend: a GGUF file for llama.cpp, or a model folder.

Shipped short names (`qwen-1.5b`, `qwen-0.5b`, `smollm2`), models fetched with `tutor pull`
(by repo or alias), `.gguf` paths, Hugging Face model folders and models `tutor train` wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tutor.errors import ModelError
from tutor.models.catalog import SHIPPED
from tutor.models.progress import LoadProgress
from tutor.models.shipped import shipped_gguf


@dataclass(frozen=True)
class LocalModel:
    """A model ready to load.

    Args:
        name: as the learner named it.
        kind: "shipped", "pulled", "gguf" (a path), "directory" or "trained".
        path: the GGUF file, or the model folder.
    """

    name: str
    kind: str
    path: Path

    @property
    def is_gguf(self) -> bool:
        return self.kind in ("shipped", "pulled", "gguf")


def resolve_local(spec: str, *, progress: LoadProgress | None = None) -> LocalModel:
    """Find the model `spec` names, assembling a shipped one on first use.

    Raises:
        ModelError: nothing by that name, or it is not usable; says what to do.
    """
    if spec in SHIPPED:
        return LocalModel(spec, "shipped", shipped_gguf(SHIPPED[spec], progress))
    from tutor.models import store
    from tutor.models.folder import check_model_dir
    from tutor.models.pulled import find_pulled

    path = store.model_path(spec)
    if not path.exists():  # a path wins over a repo id that looks the same ("models/foo")
        pulled = find_pulled(spec)
        if pulled is not None:
            return LocalModel(spec, "pulled", pulled)
    if path.is_file():
        return LocalModel(path.name, "gguf", path)
    if path.is_dir():
        check_model_dir(path)
        return LocalModel(path.name, store.folder_kind(path), path)
    names = ", ".join(SHIPPED)
    raise ModelError(
        f"Unknown model {spec!r}: use {names}, a model from `tutor pull`, a .gguf file or a "
        "model folder (see `tutor models`)."
    )
