"""Find and read the learner's notes: .md and .txt files, given as files or folders.

Bad input that makes notes unusable as a whole (a missing path, a folder without notes) raises
`NotesError`. A single unreadable file (binary, not UTF-8, unreadable) is skipped with a
warning through the `warn` callback; it never stops the lesson.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tutor.errors import NotesError, SkipFile

NOTE_SUFFIXES = (".md", ".markdown", ".txt")
ENV_NAME = "TUTOR_NOTES"

Warn = Callable[[str], None]


@dataclass(frozen=True)
class NoteFile:
    """A notes file and the name citations use for it (`notes/attention.md`)."""

    path: Path
    display: str


def paths_from_env(value: str | None) -> list[Path]:
    """`TUTOR_NOTES` holds one or more paths separated by the OS path separator (`:`)."""
    if not value:
        return []
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def _walk(root: Path) -> Iterable[tuple[str, str]]:
    """(absolute path, path relative to root with /) of every notes file, hidden ones left out."""
    top = str(root)
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = folder[len(top):].lstrip(os.sep).replace(os.sep, "/")
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(NOTE_SUFFIXES):
                yield os.path.join(folder, name), f"{relative}/{name}" if relative else name


def collect(paths: Iterable[Path], warn: Warn) -> list[NoteFile]:
    """Every notes file under `paths`, in a stable order, each listed once.

    Raises:
        NotesError: no paths, a path that does not exist, or a folder with no .md/.txt files.
    """
    paths = list(paths)
    if not paths:
        raise NotesError("no notes given: pass --notes PATH (a .md/.txt file or a folder of them)")
    found: dict[str, NoteFile] = {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise NotesError(
                f"notes path {given} does not exist: pass a .md/.txt file or a folder of them "
                f"(--notes or {ENV_NAME})"
            )
        if path.is_dir():
            root = path.resolve()
            files = list(_walk(root))
            if not files:
                raise NotesError(f"the notes folder {given} has no .md or .txt files")
            for file, relative in files:
                if file not in found:
                    found[file] = NoteFile(Path(file), f"{root.name}/{relative}")
        elif path.suffix.lower() not in NOTE_SUFFIXES:
            warn(f"skipped {given}: notes must be .md or .txt files")
        else:
            file = str(path.resolve())
            found.setdefault(file, NoteFile(Path(file), path.name))
    if not found:
        raise NotesError("none of the given notes paths is a .md or .txt file")
    return list(found.values())


def decode_note(data: bytes, display: str) -> str:
    """The text of a notes file.

    Raises:
        SkipFile: the bytes look binary (a NUL byte) or are not UTF-8.
    """
    if b"\x00" in data[:8192]:
        raise SkipFile(f"skipped {display}: it looks like a binary file, not text notes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"skipped {display}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
