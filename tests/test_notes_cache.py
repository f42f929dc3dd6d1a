"""The notes index cache: reused when nothing changed, and it notices changed, added, removed files."""

from __future__ import annotations

import os

from tutor.notes import NotesIndex, open_index
from tutor.paths import cache_dir


def make(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nAlpha particles are helium nuclei.")
    (notes / "b.md").write_text("# B\n\nBeta decay emits an electron.")
    return notes


def test_cache_lives_under_the_cache_dir_and_is_reused(tmp_path):
    notes = make(tmp_path)
    first = NotesIndex([notes])
    update = first.refresh()
    assert sorted(update.added) == ["notes/a.md", "notes/b.md"]
    assert first.cache.parent == cache_dir() / "notes" and (first.cache / "index.json").exists()

    second = NotesIndex([notes])
    update = second.refresh()
    assert (update.added, update.changed, update.removed, update.unchanged) == ([], [], [], 2)
    assert second.search("helium", k=1)[0].citation == "notes/a.md §1"


def test_changed_added_and_removed_files_are_noticed(tmp_path):
    notes = make(tmp_path)
    NotesIndex([notes]).refresh()
    (notes / "a.md").write_text("# A\n\nAlpha particles are helium nuclei with two protons and two neutrons.")
    (notes / "c.txt").write_text("Gamma rays are photons.")
    (notes / "b.md").unlink()

    index = NotesIndex([notes])
    update = index.refresh()
    assert update.changed == ["notes/a.md"]
    assert update.added == ["notes/c.txt"]
    assert update.removed == ["notes/b.md"]
    assert index.search("neutrons", k=1)[0].citation == "notes/a.md §1"
    assert index.search("beta electron", k=3) == []
    assert index.search("gamma photons", k=1)[0].citation == "notes/c.txt §1"


def test_touched_but_identical_file_is_not_rechunked(tmp_path):
    notes = make(tmp_path)
    NotesIndex([notes]).refresh()
    stat = (notes / "a.md").stat()
    os.utime(notes / "a.md", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    update = NotesIndex([notes]).refresh()
    assert not update.dirty and update.unchanged == 2


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    notes = make(tmp_path)
    index = NotesIndex([notes])
    index.refresh()
    for name in ("manifest.json", "index.json"):
        (index.cache / name).write_bytes(b"not json {")
    update = NotesIndex([notes]).refresh()
    assert sorted(update.added) == ["notes/a.md", "notes/b.md"]


def test_a_lost_index_file_is_rebuilt_from_the_files(tmp_path):
    notes = make(tmp_path)
    index = NotesIndex([notes])
    index.refresh()
    (index.cache / "index.json").unlink()
    again = NotesIndex([notes])
    update = again.refresh()
    assert update.unchanged == 2
    assert again.search("helium", k=1)[0].citation == "notes/a.md §1"


def test_an_added_file_reuses_cached_passages_of_the_others(tmp_path):
    notes = make(tmp_path)
    NotesIndex([notes]).refresh()
    (notes / "c.md").write_text("# C\n\nGamma rays.")
    index = NotesIndex([notes])
    update = index.refresh()
    assert (update.added, update.unchanged) == (["notes/c.md"], 2)
    assert index.search("helium", k=1)[0].citation == "notes/a.md §1"
    assert index.search("gamma", k=1)[0].citation == "notes/c.md §1"


def test_the_cache_is_plain_json_that_cannot_run_code(tmp_path):
    import json
    import os
    import pickle

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Hashing\nA hash function maps keys to buckets.\n")
    index = open_index([notes])
    for name in ("manifest.json", "index.json", "terms.json"):
        json.loads((index.cache / name).read_text())  # every cache file is JSON
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (index.cache / "index.json").write_bytes(pickle.dumps(Exploit()))
    again = open_index([notes])
    assert not marker.exists()
    assert [p.citation for p in again.search("hash function")] == [p.citation for p in index.search("hash function")]
