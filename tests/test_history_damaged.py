"""A lesson with a damaged row: delete always works; show and export name the damage and show the rest."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.history.db import history_path
from tutor.history.store import HistoryStore


def run(args, *, backend=None, tty=False, input=None):
    backend = backend or FakeBackend(["unused"])
    deps = Dependencies(build_backend=lambda choice, settings, **kwargs: backend, stdin_is_tty=lambda: tty)
    return CliRunner().invoke(app, args, obj=deps, input=input, env={"COLUMNS": "200"})


@pytest.fixture
def lesson_id() -> str:
    """A stored lesson with two answers."""
    backend = FakeBackend(["First answer, whole."], ["Second answer, to be damaged."])
    result = run(["explain", "Entropy"], backend=backend, tty=True, input="simpler\n")
    assert result.exit_code == 0, result.output
    store = HistoryStore.open(create=False)
    (lesson,) = store.lessons()
    store.close()
    return lesson.id


def damage(sql: str) -> None:
    """Write bytes that are not UTF-8 into a TEXT column, as another program or a bad disk might."""
    with sqlite3.connect(history_path()) as conn:
        conn.execute(sql)
    conn.close()


def test_a_turn_that_is_not_utf8_is_named_and_the_rest_is_shown(lesson_id):
    damage("UPDATE turns SET answer = CAST(x'5365636f6e64ff20616e73776572' AS TEXT) WHERE seq = 2")
    result = run(["show", lesson_id, "--all"])
    assert result.exit_code == 0, result.output
    assert f"note: lesson {lesson_id} is damaged in: turn 2 (answer)." in result.stderr
    assert "First answer, whole." in result.stdout
    assert "Second\ufffd answer" in result.stdout  # what could be read of the damaged turn

    exported = run(["export", lesson_id, "--format", "json"])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert [turn["answer"] for turn in document["turns"]] == ["First answer, whole.", "Second\ufffd answer"]
    assert "turn 2 (answer)" in exported.stderr

    listed = run(["history"])
    assert listed.exit_code == 0 and lesson_id in listed.stdout


def test_damaged_messages_still_show_but_cannot_be_resumed(lesson_id):
    damage("UPDATE lessons SET messages = '[{\"role\": \"sys'")  # cut short: not JSON
    shown = run(["show", lesson_id])
    assert shown.exit_code == 0, shown.output
    assert "Second answer, to be damaged." in shown.stdout
    assert "damaged in: messages" in shown.stderr
    resumed = run(["resume", lesson_id])
    assert resumed.exit_code == 1
    assert f"lesson {lesson_id} has damaged messages; it cannot be resumed" in resumed.stderr
    assert "Traceback" not in resumed.output


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE turns SET answer = CAST(x'ff' AS TEXT)",
        "UPDATE lessons SET messages = 'not json', topic = CAST(x'456e74ff' AS TEXT)",
    ],
)
@pytest.mark.parametrize("confirm", ["--yes", "asked"])
def test_delete_always_works(lesson_id, sql, confirm):
    damage(sql)
    if confirm == "--yes":
        result = run(["delete", lesson_id, "--yes"])
    else:
        result = run(["delete", lesson_id], tty=True, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"deleted {lesson_id}" in result.stderr
    store = HistoryStore.open(create=False)
    assert store.lessons() == []
    store.close()
