"""`tutor history`, `show`, `resume`, `export` and `delete`, and how `explain` records lessons."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.conversation import LEVEL_HINTS
from tutor.history.db import history_path
from tutor.history.store import HistoryStore
from tutor.prompts import PromptSet

T0 = 1795000000.0  # 2026-11-18 11:06:40 UTC


@pytest.fixture(autouse=True)
def prompts_dir(tmp_path, monkeypatch):
    """Short prompts, so the stored messages can be spelled out exactly."""
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "system.md").write_text("SYSTEM")
    (folder / "explain.md").write_text("TEACH $topic ($level)")
    (folder / "revise.md").write_text("REVISE $feedback")
    monkeypatch.setenv("TUTOR_PROMPTS_DIR", str(folder))
    return folder


def run(args, *, backend=None, tty=False, input=None, env=None):
    backend = backend or FakeBackend(["# Title\n\nBody."])
    deps = Dependencies(build_backend=lambda choice, settings, **kwargs: backend, stdin_is_tty=lambda: tty)
    return CliRunner().invoke(app, args, obj=deps, input=input, env={"COLUMNS": "150", **(env or {})})


def error_line(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def topics(table: str) -> list[str]:
    """The Topic column of `tutor history`'s table."""
    return [line.split("│")[3].strip() for line in table.splitlines() if line.startswith("│")]


def open_store() -> HistoryStore:
    store = HistoryStore.open(create=False)
    assert store is not None
    return store


def entropy_lesson() -> str:
    """Explain, one round of feedback, then pin the timestamps; returns the lesson ID."""
    backend = FakeBackend(["# Entropy\n\n", "Disorder."], ["Heat flows ", "from hot to cold."])
    result = run(["explain", "Entropy", "--level", "beginner"], backend=backend, tty=True, input="simpler\n")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(history_path())
    with conn:
        conn.execute("UPDATE lessons SET created_at = ?, updated_at = ?", (T0, T0))
        conn.execute("UPDATE turns SET started_at = ?, finished_at = ?", (T0, T0))
    conn.close()
    (lesson,) = open_store().lessons()
    return lesson.id


EXPECTED_MARKDOWN = """\
# Entropy

*beginner · fake:fake-1 · 2026-11-18 11:06 UTC · lesson {id}*

## Explanation

# Entropy

Disorder.

## Feedback

> simpler

## Revised explanation

Heat flows from hot to cold.
"""

EXPECTED_JSON = """\
{{
  "format": "tutor-lesson",
  "version": 1,
  "id": "{id}",
  "topic": "Entropy",
  "level": "beginner",
  "backend": "fake",
  "model": "fake-1",
  "prompts": "{prompts}",
  "notes": [],
  "created_at": "2026-11-18T11:06:40Z",
  "updated_at": "2026-11-18T11:06:40Z",
  "turns": [
    {{
      "feedback": null,
      "retry": false,
      "answer": "# Entropy\\n\\nDisorder.",
      "status": "done",
      "error": null,
      "backend": "fake",
      "model": "fake-1",
      "prompt_tokens": 7,
      "completion_tokens": 2,
      "time_to_first_token": 1.0,
      "tokens_per_second": 1.0,
      "started_at": "2026-11-18T11:06:40Z",
      "finished_at": "2026-11-18T11:06:40Z"
    }},
    {{
      "feedback": "simpler",
      "retry": false,
      "answer": "Heat flows from hot to cold.",
      "status": "done",
      "error": null,
      "backend": "fake",
      "model": "fake-1",
      "prompt_tokens": 7,
      "completion_tokens": 2,
      "time_to_first_token": 1.0,
      "tokens_per_second": 1.0,
      "started_at": "2026-11-18T11:06:40Z",
      "finished_at": "2026-11-18T11:06:40Z"
    }}
  ],
  "messages": [
    {{
      "role": "system",
      "content": "SYSTEM"
    }},
    {{
      "role": "user",
      "content": "TEACH Entropy ({hint})"
    }},
    {{
      "role": "assistant",
      "content": "# Entropy\\n\\nDisorder."
    }},
    {{
      "role": "user",
      "content": "REVISE simpler"
    }},
    {{
      "role": "assistant",
      "content": "Heat flows from hot to cold."
    }}
  ]
}}
"""


def expected_json(lesson_id: str, prompts_dir) -> str:
    return EXPECTED_JSON.format(id=lesson_id, prompts=PromptSet(prompts_dir).fingerprint(), hint=LEVEL_HINTS["beginner"])


# --- explain records, history lists ------------------------------------------------------


def test_explain_records_the_lesson_and_history_lists_it():
    lesson_id = entropy_lesson()
    result = run(["history"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if lesson_id in line)
    assert "2026-11-18" in row or "2026-11-19" in row  # local time
    for cell in ("Entropy", " 2 ", "done", "fake:fake-1"):
        assert cell in row


def test_history_filters_by_text_and_limits_newest_first():
    for topic in ("Gravity", "Entropy", "Entropy of black holes"):
        assert run(["explain", topic, "--no-feedback"]).exit_code == 0
    assert topics(run(["history", "entropy"]).stdout) == ["Entropy of black holes", "Entropy"]
    assert topics(run(["history", "--limit", "1"]).stdout) == ["Entropy of black holes"]
    assert topics(run(["history"]).stdout) == ["Entropy of black holes", "Entropy", "Gravity"]
    nothing = run(["history", "quantum"])
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert "no lesson matches 'quantum'" in nothing.stderr


def test_history_with_nothing_stored_says_so_and_creates_nothing():
    result = run(["history"])
    assert result.exit_code == 0
    assert 'no lessons yet: start one with  tutor explain "a topic"' in result.stderr
    assert not history_path().exists()


@pytest.mark.parametrize("how", [["--no-history"], "env"])
def test_no_history_stores_nothing_at_all(how):
    args, env = (["explain", "X", "--no-feedback"] + how, None) if how != "env" else (
        ["explain", "X", "--no-feedback"], {"TUTOR_NO_HISTORY": "1"})
    result = run(args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "# Title\n\nBody.\n"
    assert not history_path().parent.exists()


# --- show, export, delete ----------------------------------------------------------------


def test_show_prints_the_latest_explanation_and_all_turns_with_all():
    lesson_id = entropy_lesson()
    latest = run(["show", lesson_id[:3]])
    assert latest.exit_code == 0, latest.output
    assert latest.stdout == "Heat flows from hot to cold.\n"
    everything = run(["show", lesson_id, "--all"])
    assert everything.stdout == EXPECTED_MARKDOWN.format(id=lesson_id)


def test_export_markdown_and_json_exactly(prompts_dir):
    lesson_id = entropy_lesson()
    markdown = run(["export", lesson_id])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout == EXPECTED_MARKDOWN.format(id=lesson_id)
    as_json = run(["export", lesson_id, "--format", "json"])
    assert as_json.stdout == expected_json(lesson_id, prompts_dir)
    assert json.loads(as_json.stdout)["turns"][1]["feedback"] == "simpler"


def test_export_to_a_file_picks_the_format_from_the_suffix(tmp_path, prompts_dir):
    lesson_id = entropy_lesson()
    result = run(["export", lesson_id, "-o", str(tmp_path / "lesson.json")])
    assert result.exit_code == 0, result.output
    assert f"exported {lesson_id} to " in result.stderr
    assert (tmp_path / "lesson.json").read_text() == expected_json(lesson_id, prompts_dir)
    run(["export", lesson_id, "-o", str(tmp_path / "lesson.txt")])
    assert (tmp_path / "lesson.txt").read_text() == EXPECTED_MARKDOWN.format(id=lesson_id)
    run(["export", lesson_id, "-o", str(tmp_path / "forced.json"), "--format", "md"])
    assert (tmp_path / "forced.json").read_text() == EXPECTED_MARKDOWN.format(id=lesson_id)


def test_export_to_a_path_that_cannot_be_written_leaves_no_file(tmp_path):
    lesson_id = entropy_lesson()
    missing = tmp_path / "no-such-dir" / "lesson.md"
    line = error_line(run(["export", lesson_id, "-o", str(missing)]))
    assert line == f"error: cannot write {missing}: No such file or directory"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    line = error_line(run(["export", lesson_id, "-o", str(folder)]))
    assert line == f"error: cannot write {folder}: Is a directory"
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == []


def test_delete_removes_the_lesson():
    lesson_id = entropy_lesson()
    result = run(["delete", lesson_id, "--yes"])
    assert result.exit_code == 0, result.output
    assert f"deleted {lesson_id} · Entropy" in result.stderr
    assert open_store().lessons() == []
    assert error_line(run(["show", lesson_id])) == f'error: no lesson matches "{lesson_id}" (tutor history lists them)'


def test_unknown_and_ambiguous_ids_are_one_line_errors():
    for _ in range(2):
        assert run(["explain", "X", "--no-feedback"]).exit_code == 0
    conn = sqlite3.connect(history_path())
    with conn:
        for rowid, new in ((1, "abc222"), (2, "abd333")):
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("UPDATE turns SET lesson_id = ? WHERE lesson_id = (SELECT id FROM lessons WHERE rowid = ?)",
                         (new, rowid))
            conn.execute("UPDATE lessons SET id = ? WHERE rowid = ?", (new, rowid))
    conn.close()
    for command in (["show"], ["export"], ["delete"], ["resume"]):
        assert error_line(run(command + ["ab"])) == 'error: "ab" matches several lessons (abc222, abd333): type more of the ID'
        assert error_line(run(command + ["zz"])) == 'error: no lesson matches "zz" (tutor history lists them)'
    assert run(["show", "abd"]).stdout == "# Title\n\nBody.\n"


def test_commands_on_an_empty_history_say_how_to_start():
    for command in (["show", "abc"], ["export", "abc"], ["delete", "abc"], ["resume"]):
        assert error_line(run(command)) == 'error: no lessons yet: start one with  tutor explain "a topic"'
    assert not history_path().exists()


def test_show_of_a_lesson_without_any_text_says_what_to_do():
    from tutor.errors import BackendUnavailable

    run(["explain", "X", "--no-feedback"], backend=FakeBackend([BackendUnavailable("cannot connect")]))
    (lesson,) = open_store().lessons()
    assert lesson.status == "error"
    line = error_line(run(["show", lesson.id]))
    assert line == f"error: lesson {lesson.id} has no explanation yet: tutor resume {lesson.id} asks again"


# --- resume ------------------------------------------------------------------------------


def test_resume_restores_the_whole_conversation_and_adds_turns_to_the_lesson():
    lesson_id = entropy_lesson()
    backend = FakeBackend(["An example: ice melting."])
    result = run(["resume", lesson_id[:4]], backend=backend, tty=True, input="an example\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == (  # stdout is not a terminal: the new answer comes under a rule and headings
        "Heat flows from hot to cold.\n\n---\n\n## Feedback\n\n> an example\n\n"
        "## Revised explanation\n\nAn example: ice melting.\n"
    )
    assert f"resuming {lesson_id} · Entropy · 2 answers" in result.stderr
    sent = backend.calls[0]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[4]["content"] == "Heat flows from hot to cold." and sent[5]["content"] == "REVISE an example"
    saved = open_store().load(lesson_id)
    assert [(t.seq, t.feedback, t.answer) for t in saved.turns][2:] == [(3, "an example", "An example: ice melting.")]
    assert saved.messages == sent + [{"role": "assistant", "content": "An example: ice melting."}]


def test_resume_without_an_id_takes_the_latest_lesson():
    run(["explain", "Gravity", "--no-feedback"], backend=FakeBackend(["apples"]))
    run(["explain", "Entropy", "--no-feedback"], backend=FakeBackend(["disorder"]))
    result = run(["resume", "--no-feedback"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "disorder\n"
    assert "resuming" in result.stderr and "Entropy" in result.stderr


def test_resume_answers_a_request_that_never_got_its_answer():
    from tutor.errors import BackendUnavailable

    run(["explain", "X", "--no-feedback"], backend=FakeBackend([BackendUnavailable("cannot connect")]))
    backend = FakeBackend(["now it works"])
    result = run(["resume", "--no-feedback"], backend=backend)
    assert result.exit_code == 0, result.output
    assert result.stdout == "now it works\n"
    assert [m["role"] for m in backend.calls[0]] == ["system", "user"]
    (lesson,) = open_store().lessons()
    assert (lesson.turns, lesson.status) == (2, "done")


def test_resume_after_a_crash_keeps_the_partial_answer():
    run(["explain", "X", "--no-feedback"], backend=FakeBackend(["whole"]))
    (lesson,) = open_store().lessons()
    conn = sqlite3.connect(history_path())
    with conn:  # as a process killed mid-answer leaves it: messages end with the request
        conn.execute("UPDATE turns SET status = 'streaming', answer = 'who', finished_at = NULL, writer = '999999999:'")
        conn.execute("UPDATE lessons SET messages = json_remove(messages, '$[#-1]')")
    conn.close()
    assert run(["history"]).stdout.count("interrupted") == 1
    backend = FakeBackend(["revised"])
    result = run(["resume", lesson.id], backend=backend, tty=True, input="go on\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("who\n") and result.stdout.endswith("## Revised explanation\n\nrevised\n")
    assert "(interrupted)" in result.stderr
    assert backend.calls[0][2] == {"role": "assistant", "content": "who"}


def test_resume_says_when_the_prompts_changed(prompts_dir):
    run(["explain", "X", "--no-feedback"])
    (prompts_dir / "revise.md").write_text("REWRITE $feedback")
    result = run(["resume", "--no-feedback"])
    assert "note: the prompts changed since this lesson began; new answers use the current ones" in result.stderr


# --- damage and failures -----------------------------------------------------------------


def test_a_corrupt_database_is_set_aside_and_the_lesson_goes_on():
    path = history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not sqlite at all " * 100)
    result = run(["explain", "X", "--no-feedback"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "# Title\n\nBody.\n"
    assert "note: the history database could not be read (file is not a database); it was moved to" in result.stderr
    (backup,) = path.parent.glob("history.sqlite3.corrupt-*")
    assert str(backup) in result.stderr.replace("\n", "")
    assert backup.read_bytes().startswith(b"not sqlite at all")
    assert len(open_store().lessons()) == 1


def test_a_history_that_cannot_be_opened_does_not_stop_the_lesson(tmp_path, monkeypatch):
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("TUTOR_HOME", str(blocker))
    result = run(["explain", "X", "--no-feedback"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "# Title\n\nBody.\n"
    assert "note: history is off for this lesson: cannot open the history database" in result.stderr


def test_the_api_key_is_never_stored():
    secret = "sk-test-DO-NOT-STORE-abcdefgh9876"
    run(["explain", "X", "--no-feedback"], env={"OPENAI_API_KEY": secret})
    data = b"".join(p.read_bytes() for p in history_path().parent.iterdir())
    assert data and secret.encode() not in data


def test_show_in_a_terminal_renders_the_markdown():
    import io

    from rich.console import Console

    from tutor.render import render_markdown

    def terminal() -> Console:
        return Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)

    run(["explain", "X", "--no-feedback"], backend=FakeBackend(["# Title\n\n- one\n- two\n"]))
    (lesson,) = open_store().lessons()
    out = terminal()
    deps = Dependencies(out=out)
    result = CliRunner().invoke(app, ["show", lesson.id], obj=deps)
    assert result.exit_code == 0, result.output
    expected = terminal()
    render_markdown("# Title\n\n- one\n- two\n", expected)
    assert out.file.getvalue() == expected.file.getvalue()
    assert "# Title" not in out.file.getvalue() and "• one" in out.file.getvalue()


# --- newcomer papercuts (issue 13) -----------------------------------------------------------


def test_show_and_export_without_an_id_take_the_latest_lesson():
    run(["explain", "Gravity", "--no-feedback"], backend=FakeBackend(["apples"]))
    run(["explain", "Entropy", "--no-feedback"], backend=FakeBackend(["disorder"]))
    shown = run(["show"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == "disorder\n"
    exported = run(["export"])
    assert exported.exit_code == 0 and exported.stdout.startswith("# Entropy\n")


def test_delete_asks_on_a_terminal_and_keeps_the_lesson_on_no():
    lesson_id = entropy_lesson()
    kept = run(["delete", lesson_id], tty=True, input="n\n")
    assert kept.exit_code == 1
    assert f"Delete lesson {lesson_id} · Entropy · 2 answers? [y/N]" in kept.stderr
    assert [lesson.id for lesson in open_store().lessons()] == [lesson_id]
    deleted = run(["delete", lesson_id], tty=True, input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert open_store().lessons() == []


def test_delete_without_a_terminal_needs_yes():
    lesson_id = entropy_lesson()
    assert error_line(run(["delete", lesson_id])) == f"error: tutor delete {lesson_id} asks first; without a terminal, add --yes"
    assert [lesson.id for lesson in open_store().lessons()] == [lesson_id]


def test_retry_is_exported_as_a_retry_not_as_new_feedback():
    backend = FakeBackend(["first"], ["simpler one"], ["simpler two"])
    assert run(["explain", "Entropy"], backend=backend, tty=True, input="simpler\n/retry\n").exit_code == 0
    (summary,) = open_store().lessons()
    markdown = run(["export", summary.id]).stdout
    assert markdown.count("## Feedback") == 1
    assert "## Revised explanation\n\nsimpler one" in markdown
    assert "## Revised explanation (retry)\n\nsimpler two" in markdown
    turns = json.loads(run(["export", summary.id, "--format", "json"]).stdout)["turns"]
    assert [(t["feedback"], t["retry"]) for t in turns] == [(None, False), ("simpler", False), ("simpler", True)]


def test_retry_right_after_resume_keeps_the_feedback_it_retries():
    lesson_id = entropy_lesson()
    result = run(["resume", lesson_id], backend=FakeBackend(["again, simpler"]), tty=True, input="/retry\n")
    assert result.exit_code == 0, result.output
    last = open_store().load(lesson_id).turns[-1]
    assert (last.feedback, last.retry, last.answer) == ("simpler", True, "again, simpler")
    assert "## Revised explanation (retry)\n\nagain, simpler" in run(["export", lesson_id]).stdout


def test_resume_restores_the_notes_of_the_lesson(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "entropy.md").write_text("# Entropy\n\nEntropy counts the microstates of a system.\n")
    first = run(["explain", "Entropy microstates", "--notes", str(notes), "--no-feedback"],
                backend=FakeBackend(["Counting microstates."]))
    assert first.exit_code == 0, first.output
    result = run(["resume"], backend=FakeBackend(["unused"]), tty=True, input="/sources\n")
    assert result.exit_code == 0, result.output
    assert "entropy.md §1" in result.stderr
    assert "No notes passages were used" not in result.stderr
    assert json.loads(run(["export", "--format", "json"]).stdout)["notes"] == [str(notes)]


def test_resume_says_when_its_notes_are_gone(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\nAlpha particles.\n")
    run(["explain", "Alpha particles", "--notes", str(notes), "--no-feedback"], backend=FakeBackend(["x"]))
    (notes / "a.md").unlink()
    notes.rmdir()
    result = run(["resume", "--no-feedback"])
    assert result.exit_code == 0, result.output
    assert f"notes: {notes} no longer exist; resuming without them" in result.stderr


def test_history_piped_never_truncates_a_column():
    model = "smollm2-edbcc4206bff-with-a-long-suffix"
    run(["explain", "A topic with a fairly long name, longer than a narrow terminal", "--no-feedback"],
        backend=FakeBackend(["x"], name="local", model=model))
    table = run(["history"], env={"COLUMNS": "40"}).stdout
    assert f"local:{model}" in table
    assert "A topic with a fairly long name, longer than a narrow terminal" in table
