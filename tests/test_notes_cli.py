"""The terminal side of notes: warnings, the index summary, the progress bar, TUTOR_NOTES."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tutor.cli.notes import notes_paths, open_grounding, topic_context
from tutor.cli.progress import RichIndexProgress
from tutor.prompts import PromptSet


def console() -> Console:
    return Console(width=100, color_system=None, record=True, force_terminal=False)


def test_open_grounding_reports_passages_and_warnings(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# Waves\n\n## Light\nLight is a wave.\n\n## Sound\nSound is a wave too.")
    (notes / "b.md").write_bytes(b"\x00binary")
    err = console()
    grounding = open_grounding([notes], PromptSet(), err)
    shown = err.export_text()
    assert "warning: skipped notes/b.md: it looks like a binary file" in shown
    assert "notes: 2 passages from 1 files" in shown
    assert "[notes/a.md §1]" in topic_context(grounding, "light wave", err).wrap_system("You teach.")
    assert topic_context(grounding, "zebra", err).wrap_system("You teach.") == "You teach."
    assert "no passage matches zebra" in err.export_text()
    assert topic_context(None, "light", err).passages == []


def test_progress_bar_appears_only_for_large_folders():
    err = console()
    small = RichIndexProgress(err, threshold=3)
    small.start(2)
    small.advance("a.md")
    small.end()
    assert err.export_text() == ""
    large = RichIndexProgress(err, threshold=3)
    large.start(3)
    for name in ("a", "b", "c"):
        large.advance(name)
    large.end()  # a transient bar: started and stopped without error


def test_notes_flag_wins_over_env():
    assert notes_paths([Path("x")], {"TUTOR_NOTES": "y"}) == [Path("x")]
    assert notes_paths(None, {"TUTOR_NOTES": "y:z"}) == [Path("y"), Path("z")]
    assert notes_paths(None, {}) == []
