"""Real processes: `kill -9` mid-answer keeps what streamed, and two writers lose nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from openai_server import OpenAIServer, Reply, openai_server  # noqa: F401 - fixture
from typer.testing import CliRunner

from tutor.cli.app import app
from tutor.history.db import history_path
from tutor.history.store import HistoryStore

DEADLINE_S = 30  # generous: a slow machine must not fail these, a hang must


def stored_answers() -> list[tuple[str, str]]:
    """(answer, raw status) of every turn, read without going through the store."""
    if not history_path().exists():
        return []
    conn = sqlite3.connect(history_path(), timeout=5)
    try:
        return conn.execute("SELECT answer, status FROM turns ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        conn.close()


def test_kill_9_mid_answer_keeps_the_text_and_shows_the_turn_as_interrupted(openai_server: OpenAIServer):  # noqa: F811
    secret = "sk-test-never-stored-1234"
    reply = Reply.stream(["Entropy ", "is ", "never sent"], stall_after=2)
    openai_server.enqueue(reply)
    env = {**os.environ, "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": secret}
    child = subprocess.Popen(
        [sys.executable, "-m", "tutor", "explain", "X", "--backend", "openai", "--no-feedback"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        # The watchdog saves the stalled text within half a second; wait for that, not a time.
        while stored_answers() != [("Entropy is ", "streaming")]:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, f"never saved; stored {stored_answers()}"
            time.sleep(0.02)
        assert reply.stalled.wait(10)  # set just after the last chunk is sent
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    assert stored_answers() == [("Entropy is ", "streaming")]  # as the dead process left it
    store = HistoryStore.open(create=False)
    assert store is not None
    (lesson,) = store.lessons()
    (turn,) = store.load(lesson.id).turns
    assert (turn.answer, turn.status, turn.finished_at) == ("Entropy is ", "interrupted", None)
    store.close()
    listed = CliRunner().invoke(app, ["history"], env={"COLUMNS": "150"})
    row = next(line for line in listed.stdout.splitlines() if lesson.id in line)
    assert "interrupted" in row and "openai:gpt-4o-mini" in row
    files = b"".join(p.read_bytes() for p in history_path().parent.iterdir() if p.is_file())
    assert secret.encode() not in files


WRITER = textwrap.dedent(
    """
    import itertools, pathlib, sys, time
    from tutor.conversation import Conversation
    from tutor.history.recorder import HistoryRecorder
    from tutor.history.store import HistoryStore
    from tutor.lesson_io import Answer
    from tutor.prompts import PromptSet

    class Backend:
        name, model = "fake", "fake-1"

    name, go = sys.argv[1], pathlib.Path(sys.argv[2])
    while not go.exists():  # start together with the other writer
        time.sleep(0.001)
    ticks = itertools.count()
    for n in range({lessons}):
        recorder = HistoryRecorder(
            HistoryStore.open(), prompts="fp", clock=lambda: float(next(ticks)), watchdog=False,
            notify=lambda message: print(message, file=sys.stderr),
        )
        conversation = Conversation.start(PromptSet(), f"{{name}} {{n}}", "beginner")
        for turn in range({turns}):
            if turn:
                conversation.add_feedback(PromptSet(), f"more {{turn}}")
            recorder.answer_started(conversation, f"more {{turn}}" if turn else None, Backend())
            chunks = [f"{{name}}-{{n}}-{{turn}}-{{i}} " for i in range({chunks})]
            for chunk in chunks:  # the clock ticks a second per call: every chunk is saved
                recorder.answer_chunk(chunk)
            conversation.record_answer("".join(chunks))
            recorder.answer_finished(conversation, Answer("".join(chunks), "done"), None)
        recorder.close()
    """
)


def race_writers(script: str, go: Path) -> list[str]:
    """Run WRITER as "alpha" and "beta", released together by creating `go`; their stderr.

    Each must exit 0."""
    writers = [
        subprocess.Popen([sys.executable, "-c", script, name, str(go)], stderr=subprocess.PIPE, text=True)
        for name in ("alpha", "beta")
    ]
    go.touch()
    errors = []
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        errors.append(err)
    return errors


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    lessons, turns, chunks = 10, 3, 30
    HistoryStore.open().close()  # the first open creates the schema; both writers then contend on rows
    for err in race_writers(WRITER.format(lessons=lessons, turns=turns, chunks=chunks), tmp_path / "go"):
        assert "locked" not in err and "history is off" not in err

    store = HistoryStore.open(create=False)
    assert store is not None
    summaries = store.lessons(limit=100)
    assert sorted(s.topic for s in summaries) == sorted(f"{name} {n}" for name in ("alpha", "beta") for n in range(lessons))
    for summary in summaries:
        lesson = store.load(summary.id)
        name, n = lesson.topic.split()
        assert [(t.seq, t.status, t.answer) for t in lesson.turns] == [
            (turn + 1, "done", "".join(f"{name}-{n}-{turn}-{i} " for i in range(chunks))) for turn in range(turns)
        ]
        assert len(lesson.messages) == 1 + 2 * turns  # system, then request and answer per turn
    store.close()


def test_two_processes_creating_the_database_at_once(tmp_path):
    """Neither sees a half-made schema, and neither mistakes the other's new file for damage."""
    race_writers(WRITER.format(lessons=1, turns=1, chunks=1), tmp_path / "go")
    store = HistoryStore.open(create=False)
    assert store is not None
    assert sorted(s.topic for s in store.lessons()) == ["alpha 0", "beta 0"]
    assert not list(history_path().parent.glob("*.corrupt-*"))
    store.close()


def test_reader_closing_the_pipe_ends_quietly_and_keeps_the_text(openai_server: OpenAIServer):  # noqa: F811
    reply = Reply.stream(["First paragraph.\n\n", "Second paragraph.\n\n", "Third.\n"], stall_after=1)
    openai_server.enqueue(reply)
    env = {**os.environ, "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": "sk-test-1234"}
    child = subprocess.Popen(  # as in `tutor explain X | head -1`
        [sys.executable, "-m", "tutor", "explain", "X", "--backend", "openai", "--no-feedback", "--plain"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert reply.stalled.wait(DEADLINE_S)
        child.stdout.close()  # the reader goes away before the rest of the answer
        reply.release.set()
        stderr = child.stderr.read().decode()
        child.wait(DEADLINE_S)
    finally:
        child.kill()
    assert child.returncode != 0
    assert "Traceback" not in stderr and "error:" not in stderr and "Exception ignored" not in stderr
    store = HistoryStore.open(create=False)
    (lesson,) = store.lessons()
    (turn,) = store.load(lesson.id).turns
    assert turn.answer.startswith("First paragraph.")
    assert turn.status != "streaming"
    store.close()
