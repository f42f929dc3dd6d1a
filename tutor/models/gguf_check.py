"""Cheap checks of a GGUF file before llama.cpp sees it, and a reason when it refuses one.

llama.cpp reports every load failure as "failed to init", so the reason is found here: the
header and tensor table are read with the `gguf` package (no weights are loaded).
"""

from __future__ import annotations

from pathlib import Path

from tutor.errors import ModelError, first_line

MAGIC = b"GGUF"


def check_gguf(path: Path) -> None:
    """Raise ModelError unless `path` is a file that starts like a GGUF."""
    if not path.is_file():
        raise ModelError(f"Model file {path} not found. See `tutor models` for the models you have.")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ModelError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if head != MAGIC:
        raise ModelError(f"{path} is not a GGUF file (it does not start with 'GGUF'). Pass a .gguf model file.")


def explain_load_failure(path: Path) -> str:
    """Why llama.cpp could not load `path`, as one line that says what to do."""
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways inside the reader
        return f"{path} is truncated or damaged ({first_line(exc)}); download or copy it again."
    if end > path.stat().st_size:
        return f"{path} is truncated ({path.stat().st_size:,} bytes, needs {end:,}); download or copy it again."
    architecture = _field(reader, "general.architecture") or "unknown"
    return (
        f"llama.cpp could not load {path} (architecture {architecture!r}): this llama.cpp build may not "
        "support it, or the machine lacks the memory. Try another model (see `tutor models`)."
    )


def _field(reader, key: str) -> str | None:
    field = reader.fields.get(key)
    if field is None or not field.data:
        return None
    try:
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    except (IndexError, TypeError, ValueError):
        return None
