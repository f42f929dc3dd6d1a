"""The history database: schema, permissions, IDs, queries, crash detection and recovery."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from tutor.errors import StoreError, UsageError
from tutor.history.db import connect, history_path
from tutor.history.liveness import writer_alive, writer_token
from tutor.history.schema import SCHEMA_VERSION
from tutor.history.store import HistoryStore
from tutor.options import Usage

T0 = 1795000000.0  # 2026-11-18 11:06:40 UTC
MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "Explain X"}]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def dead_writer() -> str:
    """The writer token of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{child.pid}:"


def open_store(clock=None, **kwargs) -> HistoryStore:
    store = HistoryStore.open(clock=clock or Clock(), **kwargs)
    assert store is not None
    return store


def add_lesson(store: HistoryStore, topic: str = "X", answers=("first",), feedback=(None,)) -> str:
    lesson_id = store.new_lesson(topic=topic, level="beginner", backend="fake", model="fake-1", prompts="abc",
                                 messages=MESSAGES)
    for answer, said in zip(answers, feedback):
        seq = store.start_turn(lesson_id, feedback=said, backend="fake", model="fake-1", messages=MESSAGES)
        store.finish_turn(lesson_id, seq, answer=answer, status="done", error=None, usage=None,
                          messages=MESSAGES + [{"role": "assistant", "content": answer}])
    return lesson_id


def test_a_new_database_has_the_schema_and_is_private():
    store = open_store()
    path = history_path()
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    add_lesson(store)  # makes SQLite create the -wal and -shm files
    for name in (path, f"{path}-wal", f"{path}-shm"):
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    store.close()


def test_reading_commands_do_not_create_the_database():
    assert HistoryStore.open(create=False) is None
    assert not history_path().exists()


def test_reopening_keeps_the_lessons():
    store = open_store()
    lesson_id = add_lesson(store, "Gravity")
    store.close()
    store = open_store()
    assert [lesson.topic for lesson in store.lessons()] == ["Gravity"]
    assert store.load(lesson_id).turns[0].answer == "first"


def test_a_database_from_a_newer_tutor_is_refused_not_replaced():
    path = history_path()
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=rf"written by a newer tutor \(schema {SCHEMA_VERSION + 1}, this one knows {SCHEMA_VERSION}\); upgrade tutor"):
        open_store()
    assert path.exists()
    assert not list(path.parent.glob("*.corrupt-*"))


def test_a_corrupt_database_is_moved_aside_and_a_new_one_started():
    path = history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just some text that fills the header" * 20)
    notices = []
    store = open_store(notify=notices.append)
    backup = path.with_name("history.sqlite3.corrupt-20261118-110640")
    assert notices == [
        f"the history database could not be read (file is not a database); it was moved to {backup} "
        "and a new one started"
    ]
    assert backup.read_bytes().startswith(b"this is not a database")
    assert store.lessons() == []
    add_lesson(store)
    assert len(store.lessons()) == 1


def test_a_second_corruption_in_the_same_second_gets_its_own_backup():
    path = history_path()
    path.parent.mkdir(parents=True)
    for _ in range(2):
        path.write_bytes(b"garbage" * 200)
        open_store(notify=lambda message: None).close()
    names = sorted(p.name for p in path.parent.glob("*.corrupt-*"))
    assert names == ["history.sqlite3.corrupt-20261118-110640", "history.sqlite3.corrupt-20261118-110640-1"]


def test_ids_are_short_and_any_unique_prefix_works():
    store = open_store()
    ids = [add_lesson(store, answers=[]) for _ in range(3)]
    for lesson_id in ids:
        assert len(lesson_id) == 6 and set(lesson_id) <= set("abcdefghijklmnopqrstuvwxyz234567")
    for old, new in zip(ids, ["abc222", "abd333", "xyz444"]):
        store.conn.execute("UPDATE lessons SET id = ? WHERE id = ?", (new, old))
    assert store.resolve("abc") == "abc222"
    assert store.resolve(" XYZ4 ") == "xyz444"
    assert store.resolve("abd333") == "abd333"
    with pytest.raises(UsageError, match=r'^"ab" matches several lessons \(abc222, abd333\): type more of the ID$'):
        store.resolve("ab")
    with pytest.raises(UsageError, match=r'^no lesson matches "q" \(tutor history lists them\)$'):
        store.resolve("q")
    with pytest.raises(UsageError, match=r'^"ab%" is not a lesson ID'):
        store.resolve("ab%")


def test_lessons_are_listed_newest_first_and_filtered_by_text():
    clock = Clock()
    store = open_store(clock)
    old = add_lesson(store, "Gravity", answers=["apples fall"])
    clock.now += 60
    new = add_lesson(store, "Entropy", answers=["disorder", "heat flows"], feedback=[None, "100% simpler_please"])
    assert [lesson.id for lesson in store.lessons()] == [new, old]
    assert [lesson.id for lesson in store.lessons(limit=1)] == [new]
    assert [lesson.id for lesson in store.lessons("APPLES")] == [old]
    assert [lesson.id for lesson in store.lessons("grav")] == [old]
    assert [lesson.id for lesson in store.lessons("100% simpler_")] == [new]
    assert store.lessons("0%s") == []  # % and _ are literal, not wildcards
    summary = store.lessons("Entropy")[0]
    assert (summary.turns, summary.status, summary.level, summary.backend) == (2, "done", "beginner", "fake")


def test_finish_turn_records_usage_status_and_the_backend_that_answered():
    store = open_store()
    lesson_id = add_lesson(store, answers=[])
    seq = store.start_turn(lesson_id, feedback="simpler", backend="openai", model="gpt-4o-mini", messages=MESSAGES)
    usage = Usage("local", "smollm2", prompt_tokens=12, completion_tokens=11, time_to_first_token=0.5, total_time=2.5)
    store.finish_turn(lesson_id, seq, answer="partial", status="error", error="stream broke", usage=usage,
                      messages=MESSAGES)
    lesson = store.load(lesson_id)
    turn = lesson.turns[0]
    assert (turn.feedback, turn.answer, turn.status, turn.error) == ("simpler", "partial", "error", "stream broke")
    assert (turn.backend, turn.model, turn.prompt_tokens, turn.completion_tokens) == ("local", "smollm2", 12, 11)
    assert (turn.time_to_first_token, turn.tokens_per_second) == (0.5, 5.0)
    assert (lesson.backend, lesson.model) == ("local", "smollm2")


def test_a_streaming_turn_reads_as_interrupted_once_its_process_is_gone():
    store = open_store()
    lesson_id = add_lesson(store, answers=[])
    store.start_turn(lesson_id, feedback=None, backend="fake", model="fake-1", messages=MESSAGES)
    store.save_partial(lesson_id, 1, "half an ans")
    assert store.load(lesson_id).turns[0].status == "streaming"  # this process is alive
    store.conn.execute("UPDATE turns SET writer = ?", (dead_writer(),))
    assert store.load(lesson_id).turns[0].status == "interrupted"
    assert store.lessons()[0].status == "interrupted"
    # Resuming keeps the text the learner saw, as Ctrl-C would have.
    conversation = store.load(lesson_id).conversation()
    assert conversation.messages == MESSAGES + [{"role": "assistant", "content": "half an ans"}]


def test_writer_liveness():
    assert writer_alive(writer_token())
    assert not writer_alive(dead_writer())
    assert not writer_alive(None)
    assert not writer_alive("nonsense")
    assert not writer_alive("0:")
    if os.path.exists(f"/proc/{os.getpid()}/stat"):
        assert not writer_alive(f"{os.getpid()}:1")  # same pid, another start time: a reused pid


def test_a_finished_turn_is_not_overwritten_by_a_late_partial_save():
    store = open_store()
    lesson_id = add_lesson(store, answers=["whole answer"])
    store.save_partial(lesson_id, 1, "whole")
    assert store.load(lesson_id).turns[0].answer == "whole answer"


def test_delete_removes_the_lesson_and_its_turns():
    store = open_store()
    keep, gone = add_lesson(store, "Keep"), add_lesson(store, "Gone", answers=["a", "b"], feedback=[None, "more"])
    store.delete(gone)
    assert [lesson.id for lesson in store.lessons()] == [keep]
    assert store.conn.execute("SELECT count(*) FROM turns WHERE lesson_id = ?", (gone,)).fetchone()[0] == 0


def test_a_directory_that_cannot_be_created_is_a_clear_store_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("TUTOR_HOME", str(blocker))
    with pytest.raises(StoreError, match=r"^cannot open the history database .*history.sqlite3: "):
        connect()


def test_a_database_damaged_inside_is_moved_aside_too():
    store = open_store()
    for _ in range(50):
        add_lesson(store, "x" * 500)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = store.conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'turns'").fetchone()[0]
    store.close()
    path = history_path()
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    start = (root - 1) * page_size
    data[start:start + page_size] = b"\xff" * page_size  # the header is fine; one table is not
    path.write_bytes(bytes(data))
    notices = []
    store = open_store(notify=notices.append)
    assert len(notices) == 1 and f"(database disk image is malformed: *** in database main *** Page {root}: " in notices[0]
    assert store.lessons() == []


def test_a_version_1_database_gains_retry_and_notes_and_keeps_its_lessons():
    from tutor.history.schema import MIGRATIONS

    path = history_path()
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO lessons VALUES ('abcdef', 'Old', 'beginner', 'openai', 'm', 'p', '[]', 1.0, 1.0)")
    conn.execute("INSERT INTO turns (lesson_id, seq, feedback, answer, status, backend, model, started_at)"
                 " VALUES ('abcdef', 1, NULL, 'text', 'done', 'openai', 'm', 1.0)")
    conn.close()
    store = HistoryStore.open()
    lesson = store.load("abcdef")
    assert (lesson.notes, lesson.turns[0].retry, lesson.turns[0].answer) == ([], False, "text")
    store.close()


def test_a_version_2_database_gains_the_quiz_tables_and_keeps_its_lessons():
    from tutor.history.schema import MIGRATIONS

    path = history_path()
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO lessons (id, topic, level, backend, model, prompts, messages, created_at, updated_at)"
                 " VALUES ('abcdef', 'Old', 'beginner', 'openai', 'm', 'p', '[]', 1.0, 1.0)")
    conn.close()
    store = HistoryStore.open()
    assert store.load("abcdef").quiz == []
    tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"quiz_items", "review_cards", "review_log", "profile"} <= tables
    store.close()
