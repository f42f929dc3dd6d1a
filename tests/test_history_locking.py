"""A database another tutor holds locked is tried again a few times, and only a lock is."""

from __future__ import annotations

import sqlite3

import pytest

from tutor.history.db import LOCKED_RETRIES, retry_locked, transaction


class Flaky:
    """An action that fails with `error` for its first `failures` calls, then returns "done"."""

    def __init__(self, failures: int, error: sqlite3.Error) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def test_a_lock_that_clears_is_waited_out_a_little_longer_each_time():
    waits: list[float] = []
    action = Flaky(2, sqlite3.OperationalError("database is locked"))

    assert retry_locked(action, sleep=waits.append) == "done"
    assert action.calls == 3
    assert waits == [pytest.approx(0.05), pytest.approx(0.1)]


def test_a_lock_that_stays_raises_after_the_last_try():
    waits: list[float] = []
    action = Flaky(99, sqlite3.OperationalError("database is busy"))

    with pytest.raises(sqlite3.OperationalError, match="busy"):
        retry_locked(action, sleep=waits.append)
    assert action.calls == LOCKED_RETRIES + 1
    assert len(waits) == LOCKED_RETRIES


def test_any_other_error_is_not_tried_again():
    waits: list[float] = []
    action = Flaky(1, sqlite3.OperationalError("disk I/O error"))

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        retry_locked(action, sleep=waits.append)
    assert action.calls == 1 and waits == []


def test_a_transaction_commits_its_body_and_rolls_back_on_error(tmp_path):
    conn = sqlite3.connect(tmp_path / "t.sqlite3", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ValueError):
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ValueError("the body failed")

    assert [row[0] for row in conn.execute("SELECT x FROM t")] == [1]
    assert not conn.in_transaction
    conn.close()
