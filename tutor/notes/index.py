"""The notes index: passages of every notes file, searchable with BM25, cached between runs.

The cache is a folder `cache_dir()/notes/<key>/`, one per set of notes paths, with three JSON
files: `manifest.json` (per file: mtime, size, sha256, passage count), `index.json` (passages
and BM25 postings) and `terms.json` (term counts per passage, read only to rebuild). JSON, not
pickle: reading a cache file must never be able to run code. A refresh stats
every file: unchanged mtime and size reuse the cached passages; otherwise the file is read and
hashed, and only a changed hash is chunked again. Added and removed files are noticed too. The
warm path reads only the first two files. The cache holds plain data and is rebuilt when bad.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any, Iterable, Protocol

from tutor.notes.bm25 import BM25, term_counts
from tutor.notes.chunking import Chunk, chunk_note
from tutor.errors import NotesError, SkipFile
from tutor.notes.files import NoteFile, Warn, collect, decode_note
from tutor.files import atomic_write
from tutor.paths import cache_dir

CACHE_VERSION = 3  # 3: JSON files instead of pickles


class IndexProgress(Protocol):
    """Told about indexing as it goes (a Rich progress bar in the CLI)."""

    def start(self, total: int) -> None: ...

    def advance(self, display: str) -> None: ...

    def end(self) -> None: ...


@dataclass
class IndexUpdate:
    """What a refresh found, by display name."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass(frozen=True)
class Passage:
    """A retrieved passage and how well it matched."""

    chunk: Chunk
    score: float

    @property
    def citation(self) -> str:
        return self.chunk.citation


def cache_folder_for(paths: Iterable[Path]) -> Path:
    digest = hashlib.sha256("\n".join(sorted(str(p) for p in paths)).encode()).hexdigest()[:16]
    return cache_dir() / "notes" / digest


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def _write(path: Path, data: Any) -> None:
    def dump(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, separators=(",", ":")))

    try:
        atomic_write(path, dump)
    except OSError:
        pass  # a cache we cannot write only costs time on the next run


class NotesIndex:
    """Searchable passages of a set of notes paths.

    Args:
        paths: the files and folders the learner gave.
        cache: the cache folder; derived from the resolved paths when None.
    """

    def __init__(self, paths: Iterable[Path], *, cache: Path | None = None) -> None:
        self.paths = [Path(p).expanduser() for p in paths]
        self.cache = cache or cache_folder_for(p.resolve() for p in self.paths)
        self.files: dict[str, dict] = {}  # absolute path -> mtime_ns, size, sha256, display, count
        self.chunks: list[Chunk] = []
        self._bm25: BM25 | None = None

    def refresh(self, *, warn: Warn = lambda message: None, progress: IndexProgress | None = None) -> IndexUpdate:
        """Bring the index up to date with the files on disk, and save it when anything changed.

        Raises:
            NotesError: a path is missing, a folder holds no notes, or no file could be read.
        """
        notes = collect(self.paths, warn)
        manifest = _read(self.cache / "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("version") != CACHE_VERSION:
            manifest = {"files": {}}
        cached: dict[str, dict] = manifest["files"]
        update = IndexUpdate()
        files: dict[str, dict] = {}
        fresh: dict[str, tuple[list[Chunk], list[dict]]] = {}  # new passages of changed/added files
        restat = False
        if progress:
            progress.start(len(notes))
        try:
            for note in notes:
                key = str(note.path)
                result = self._refresh_one(note, cached.get(key), update, warn)
                if result is not None:
                    record, chunks = result
                    files[key] = record
                    restat |= record is not cached.get(key)
                    if chunks is not None:
                        fresh[key] = chunks
                if progress:
                    progress.advance(note.display)
        finally:
            if progress:
                progress.end()
        update.removed = sorted(r["display"] for k, r in cached.items() if k not in files)
        if not files:
            raise NotesError("none of the notes files could be read (see the warnings above)")
        self.files = files
        if not update.dirty and self._load_index(cached):
            if restat:  # same content, new mtime: save so the next run skips the hash
                _write(self.cache / "manifest.json", {"version": CACHE_VERSION, "files": files})
            return update
        self._rebuild(cached, fresh)
        return update

    def _refresh_one(self, note: NoteFile, old: dict | None, update: IndexUpdate, warn: Warn):
        """(record, new passages or None when unchanged), or None when the file is skipped."""
        try:
            stat = os.stat(note.path)
            if not S_ISREG(stat.st_mode):  # reading a FIFO or a device would wait forever
                raise SkipFile(f"skipped {note.display}: not a regular file")
            if old and old["mtime_ns"] == stat.st_mtime_ns and old["size"] == stat.st_size:
                update.unchanged += 1
                return old, None
            data = note.path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if old and old["sha256"] == digest:
                update.unchanged += 1
                return {**old, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}, None
            text = decode_note(data, note.display)
        except OSError as exc:
            message = f"skipped {note.display}: {exc.strerror or exc}"
        except SkipFile as exc:
            message = str(exc)
        else:
            (update.changed if old else update.added).append(note.display)
            chunks = chunk_note(text, note.display)
            terms = [term_counts(f"{c.source} {c.heading}\n{c.text}") for c in chunks]
            record = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "sha256": digest,
                      "display": note.display, "count": len(chunks)}
            return record, (chunks, terms)
        warn(message)
        update.skipped.append(note.display)
        return None

    def _load_index(self, cached: dict[str, dict]) -> bool:
        data = _read(self.cache / "index.json")
        if not isinstance(data, dict) or data.get("order") != list(cached) or list(cached) != list(self.files):
            return False
        try:
            self.chunks = [Chunk(*map(str, c)) for c in data["chunks"]]
        except (KeyError, TypeError):
            return False
        self._bm25 = BM25.from_json(data.get("bm25"))
        return self._bm25 is not None

    def _rebuild(self, cached: dict[str, dict], fresh: dict[str, tuple[list[Chunk], list[dict]]]) -> None:
        """Postings from cached term counts for unchanged files and new ones for the rest."""
        old_index = _read(self.cache / "index.json") if len(fresh) < len(self.files) else None
        old_terms = _read(self.cache / "terms.json") if old_index else None
        old: dict[str, tuple[list, list]] = {}
        if isinstance(old_index, dict) and isinstance(old_terms, list) and len(old_terms) == len(old_index["chunks"]):
            position = 0
            for key in old_index["order"]:
                count = cached[key]["count"]
                old[key] = ([Chunk(*c) for c in old_index["chunks"][position:position + count]],
                            old_terms[position:position + count])
                position += count
        chunks: list[Chunk] = []
        terms: list[dict] = []
        for key, record in self.files.items():
            if key not in fresh and key not in old:  # cache lost: read the file again
                result = self._refresh_one(NoteFile(Path(key), record["display"]), None, IndexUpdate(), lambda m: None)
                if result is None or result[1] is None:
                    continue
                fresh[key] = result[1]
            file_chunks, file_terms = fresh.get(key) or old[key]
            chunks.extend(file_chunks)
            terms.extend(file_terms)
        self.chunks = chunks
        self._bm25 = BM25(terms)
        self.cache.mkdir(parents=True, exist_ok=True)
        _write(self.cache / "terms.json", terms)
        _write(self.cache / "index.json", {"order": list(self.files), "bm25": self._bm25.to_json(),
                                           "chunks": [(c.source, c.section, c.heading, c.text) for c in chunks]})
        _write(self.cache / "manifest.json", {"version": CACHE_VERSION, "files": self.files})

    def search(self, query: str, k: int = 4) -> list[Passage]:
        """The `k` passages that best match `query`, best first; none when nothing matches."""
        if self._bm25 is None:
            raise RuntimeError("call refresh() before search()")
        return [Passage(self.chunks[i], round(s, 4)) for i, s in self._bm25.top(query, k) if s > 0]


def open_index(paths: Iterable[Path], *, warn: Warn = lambda m: None,
               progress: IndexProgress | None = None) -> NotesIndex:
    """A refreshed index of `paths` (see `NotesIndex.refresh` for the errors)."""
    index = NotesIndex(paths)
    index.refresh(warn=warn, progress=progress)
    return index
