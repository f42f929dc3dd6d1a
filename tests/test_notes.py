"""Notes: chunking with citations, retrieval, the grounded prompt, /sources, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from tutor.display import sources_table
from tutor.notes import Grounding, NotesError, NotesIndex, chunk_note, open_index
from tutor.notes.files import paths_from_env
from tutor.prompts import PromptSet

ATTENTION = """# Attention

Intro line about sequence models.

## Queries and keys
Each token makes a query, a key and a value; softmax of query-key dot products weights the values.

## Multi-head attention
Several heads attend in parallel.

```python
# not a heading inside code
x = 1
```
"""


def write_notes(root: Path) -> Path:
    notes = root / "notes"
    (notes / "bio").mkdir(parents=True)
    (notes / "attention.md").write_text(ATTENTION)
    (notes / "bio" / "photosynthesis.md").write_text(
        "# Photosynthesis\n\n## Inputs\nChloroplasts use sunlight, water and carbon dioxide.\n\n"
        "## Calvin cycle\nThe Calvin cycle fixes carbon dioxide into glucose.\n"
    )
    (notes / "history.txt").write_text("The Bastille fell in 1789.\n\nNapoleon took power in 1799.\n")
    return notes


def test_markdown_is_chunked_by_heading_with_section_citations():
    chunks = chunk_note(ATTENTION, "notes/attention.md")
    assert [c.citation for c in chunks] == ["notes/attention.md §1", "notes/attention.md §2", "notes/attention.md §3"]
    assert chunks[1].heading == "Attention > Queries and keys"
    assert "# not a heading inside code" in chunks[2].text


def test_long_sections_split_into_numbered_parts():
    body = "\n\n".join(" ".join(["word"] * 150) for _ in range(3))
    chunks = chunk_note(f"# Long\n\n{body}\n\n# Short\n\nend", "a.md")
    assert [c.section for c in chunks] == ["1.1", "1.2", "1.3", "2"]


def test_retrieval_finds_the_right_chunk(tmp_path):
    index = open_index([write_notes(tmp_path)])
    best = index.search("What does the Calvin cycle make from carbon dioxide?", k=2)
    assert best[0].citation == "notes/bio/photosynthesis.md §2"
    assert index.search("query key softmax", k=1)[0].citation == "notes/attention.md §2"
    assert index.search("1799 Napoleon", k=1)[0].citation == "notes/history.txt §1"
    assert index.search("zebra quantum", k=3) == []


def test_the_prompt_carries_passages_and_their_citations(tmp_path):
    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet(), k=2)
    context = grounding.for_topic("Calvin cycle")
    assert context.passages[0].citation == "notes/bio/photosynthesis.md §2"
    system = context.wrap_system("You are a teacher.")
    assert "[notes/bio/photosynthesis.md §2] Photosynthesis > Calvin cycle\nThe Calvin cycle fixes" in system
    assert "cite its label in square brackets, like [notes/bio/photosynthesis.md §2]" in system
    # The shipped prompts keep the request as it is.
    assert context.wrap("Explain this topic to me: Calvin cycle") == "Explain this topic to me: Calvin cycle"
    # Feedback retrieves new passages only; /sources lists everything sent.
    again = grounding.for_feedback("Calvin cycle", "what about sunlight and water")
    assert "notes/bio/photosynthesis.md §2" not in [p.citation for p in again.passages]
    assert "notes/bio/photosynthesis.md §1" in [p.citation for p in again.passages]
    console = Console(width=120, color_system=None, record=True)
    console.print(sources_table(grounding.used))
    shown = console.export_text()
    assert "notes/bio/photosynthesis.md §2" in shown and "Sources from your notes" in shown


def test_no_match_means_no_block(tmp_path):
    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet())
    assert grounding.for_topic("zebra").wrap("Explain zebras") == "Explain zebras"
    assert sources_table([]) == "No notes passages were used in this lesson."


def test_a_prompts_folder_without_grounded_md_uses_the_shipped_one(tmp_path):
    custom = tmp_path / "prompts"
    custom.mkdir()
    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet(custom))
    context = grounding.for_topic("Bastille")
    assert "[notes/history.txt §1]" in context.wrap_system("You teach.")
    assert context.wrap("Explain the Bastille") == "Explain the Bastille"


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(NotesError, match="does not exist"):
        open_index([tmp_path / "nope"])


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(NotesError, match="has no .md or .txt files"):
        open_index([tmp_path / "empty"])


def test_binary_and_undecodable_files_are_skipped_with_a_warning(tmp_path):
    notes = write_notes(tmp_path)
    (notes / "binary.md").write_bytes(b"\x00\x01\x02 not text")
    (notes / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    warnings: list[str] = []
    index = open_index([notes], warn=warnings.append)
    assert any("binary.md" in w and "binary" in w for w in warnings)
    assert any("latin1.txt" in w and "UTF-8" in w for w in warnings)
    assert index.search("Bastille", k=1)


def test_only_unreadable_files_is_an_error(tmp_path):
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "bad.md").write_bytes(b"\x00\x00")
    with pytest.raises(NotesError, match="could be read"):
        open_index([tmp_path / "n"], warn=lambda m: None)


def test_a_single_file_and_a_wrong_suffix(tmp_path):
    note = tmp_path / "one.md"
    note.write_text("# One\n\nGradient descent steps downhill.")
    (tmp_path / "slides.pdf").write_bytes(b"%PDF")
    warnings: list[str] = []
    index = open_index([note, tmp_path / "slides.pdf"], warn=warnings.append)
    assert index.search("gradient", k=1)[0].citation == "one.md §1"
    assert warnings == [f"skipped {tmp_path / 'slides.pdf'}: notes must be .md or .txt files"]


def test_tutor_notes_env_splits_paths():
    assert paths_from_env("a:b/c") == [Path("a"), Path("b/c")]
    assert paths_from_env("") == []


def test_progress_is_told_about_every_file(tmp_path):
    events: list = []

    class Recorder:
        def start(self, total): events.append(("start", total))
        def advance(self, display): events.append(("advance", display))
        def end(self): events.append(("end",))

    NotesIndex([write_notes(tmp_path)]).refresh(progress=Recorder())
    assert events[0] == ("start", 3) and events[-1] == ("end",)
    assert sorted(e[1] for e in events if e[0] == "advance") == [
        "notes/attention.md", "notes/bio/photosynthesis.md", "notes/history.txt"]


def test_passages_far_below_the_best_score_are_left_out():
    from tutor.notes.chunking import Chunk
    from tutor.notes.grounding import relevant
    from tutor.notes.index import Passage

    passages = [Passage(Chunk("a.md", str(i), "", "x"), s) for i, s in enumerate([8.0, 5.0, 3.9])]
    assert [p.score for p in relevant(passages)] == [8.0, 5.0]
    assert relevant([]) == []


def test_passages_can_go_into_the_system_message(tmp_path):
    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet(), k=1)
    system = grounding.for_topic("Calvin cycle").wrap_system("You are a teacher.")
    assert system.startswith("You are a teacher.\n\nFacts from the learner's notes")
    assert "[notes/bio/photosynthesis.md §2] Photosynthesis > Calvin cycle" in system
    assert grounding.for_topic("zebra").wrap_system("You are a teacher.") == "You are a teacher."


def test_the_system_message_grows_with_passages_found_for_feedback(tmp_path):
    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet(), k=1)
    grounding.for_topic("Calvin cycle")
    grounding.for_feedback("Calvin cycle", "and the Bastille?")
    system = grounding.system_message("You are a teacher.")
    assert "[notes/bio/photosynthesis.md §2]" in system and "[notes/history.txt §1]" in system


def test_the_small_models_grounded_prompt_asks_for_an_explanation_with_unlabelled_notes(tmp_path):
    from tutor.prompts import shipped_prompts_dir

    grounding = Grounding(open_index([write_notes(tmp_path)]), PromptSet(shipped_prompts_dir() / "small"), k=1)
    system = grounding.for_topic("Calvin cycle").wrap_system("You are a teacher.")
    assert system.startswith("You are a teacher.") and "explanation of Calvin cycle" in system
    assert "Calvin cycle" in system.split("Notes:")[1]  # the passage's text
    assert "[notes/" not in system  # labels made the 135M model use the notes less
    assert "rewrit" not in system.lower()  # an explanation, never "a rewritten version of the notes"
    assert grounding.for_topic("Calvin cycle").wrap("Explain it to a student.") == "Explain it to a student."
    assert grounding.sources_line("An answer.") == ""  # it used nothing: no sources are claimed
    used = "In short, the Calvin cycle fixes carbon dioxide into glucose inside the chloroplast."
    assert grounding.sources_line(used) == "\n\nSources from your notes: [notes/bio/photosynthesis.md §2]"
