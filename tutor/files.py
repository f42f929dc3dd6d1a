"""Writing the learner's files: atomically, so that readers see either the old content or the
new, never half of it, under names made from the topic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from tutor.errors import UsageError


def atomic_write(path: Path, write: Callable[[Path], Any], *, private: bool = False) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it onto `path`.

    On any failure `path` is unchanged, the temporary file is gone, and the error propagates
    (callers turn OSError into their own TutorError, or ignore it for a cache).

    Args:
        private: create the file readable by its owner only (lesson exports).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def slug(text: str) -> str:
    """`text` as a file name: lowercase letters and digits joined by `-`, at most 60 characters."""
    cleaned = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(part for part in cleaned.split("-") if part)[:60] or "explanation"


def unused_path(path: Path) -> Path:
    """`path`, or `name-2.md`, `name-3.md` ... beside it: the first that does not exist."""
    number = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def write_text(path: Path, text: str) -> None:
    """Write `text` (ending with a newline) atomically and owner-only, like the history: a failed
    write leaves no partial file.

    Raises:
        UsageError: the file cannot be written (a missing folder, no permission, a full disk).
    """
    path = path.expanduser()
    body = text if text.endswith("\n") else text + "\n"
    try:
        atomic_write(path, lambda tmp: tmp.write_text(body, encoding="utf-8"), private=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
