"""The history database as commands open it: the lesson store and a plain connection (for the
profile and review cards), with notices on stderr, and the "cards due" hint.

Reading never creates the database: both openers give None when nothing was ever stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from tutor.cli.console import stderr_console
from tutor.display import print_notice

if TYPE_CHECKING:
    import sqlite3

    from tutor.history.store import HistoryStore


def open_store(err: Console) -> HistoryStore | None:
    """The history store, or None when nothing was ever stored (it is not created by reading)."""
    from tutor.history.store import HistoryStore

    return HistoryStore.open(create=False, notify=lambda message: print_notice(err, message))


def history_conn(create: bool = False) -> sqlite3.Connection | None:
    """An open history connection, or None when there is none (or it cannot be opened: the
    lesson's own recorder says why). A damaged database is moved aside here, with a notice."""
    from tutor.errors import TutorError
    from tutor.history.db import connect

    err = stderr_console()
    try:
        return connect(create=create, notify=lambda message: print_notice(err, message))
    except TutorError:
        return None


def print_cards_due(err: Console) -> None:
    """One dim line when review cards are due; nothing otherwise, and never an error."""
    from tutor.quiz.review import ReviewDeck, due_phrase

    conn = history_conn()
    if conn is None:
        return
    try:
        count = ReviewDeck(conn).due_count()
    except Exception:  # noqa: BLE001 - a hint must never break the command it decorates
        count = 0
    finally:
        conn.close()
    if count:
        err.print(f"[dim]{escape(due_phrase(count))}[/]")
