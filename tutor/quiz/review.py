"""Spaced review: every quiz question becomes a card, scheduled by FSRS (the `fsrs` package).

A quiz answer is the card's first review; `tutor review` asks the due cards again. The clock
and the scheduler are passed in, so tests can move time without waiting.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from tutor.errors import StoreError
from tutor.history.db import transaction

if TYPE_CHECKING:
    import fsrs

# How a graded answer becomes an FSRS rating. "Easy" is never given: a right answer in a
# quiz says the learner knew it, not that it was effortless.
RATINGS = {"correct": "Good", "partly": "Hard", "incorrect": "Again", "skipped": "Again", "revealed": "Again"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def default_scheduler() -> fsrs.Scheduler:
    import fsrs

    return fsrs.Scheduler()


@dataclass(frozen=True)
class ReviewCard:
    id: int
    topic: str
    question: str
    reference: str
    concept: str
    due: datetime
    reviews: int


class ReviewDeck:
    """The review cards in the history database.

    Args:
        conn: an open history connection (the caller closes it).
        now: the current time, timezone-aware.
        scheduler: an `fsrs.Scheduler`; the package default when None.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        now: Callable[[], datetime] = utc_now,
        scheduler: fsrs.Scheduler | None = None,
    ) -> None:
        self.conn = conn
        self.now = now
        self._scheduler = scheduler

    @property
    def scheduler(self) -> fsrs.Scheduler:
        if self._scheduler is None:
            self._scheduler = default_scheduler()
        return self._scheduler

    def add(self, *, lesson_id: str | None, topic: str, question: str, reference: str, concept: str,
            outcome: str) -> int:
        """A new card, already reviewed once with the quiz's outcome; returns its id."""
        import fsrs

        now = self.now()
        card, _ = self.scheduler.review_card(fsrs.Card(), _rating(outcome), now)
        with self._sql("save a review card"), transaction(self.conn) as conn:
            cursor = conn.execute(
                "INSERT INTO review_cards (lesson_id, topic, question, reference, concept, fsrs, due, reviews,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (lesson_id, topic, question, reference, concept, card.to_json(), card.due.timestamp(), now.timestamp()),
            )
            return int(cursor.lastrowid)

    def due(self, *, topic: str | None = None, limit: int | None = None) -> list[ReviewCard]:
        """Cards due now, the longest overdue first; `topic` matches part of the lesson topic."""
        query = "SELECT * FROM review_cards WHERE due <= ?"
        args: list[object] = [self.now().timestamp()]
        if topic:
            query += " AND (topic LIKE ? ESCAPE '\\' OR concept LIKE ? ESCAPE '\\')"
            pattern = "%" + topic.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            args += [pattern, pattern]
        query += " ORDER BY due, id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._sql("read review cards"):
            rows = self.conn.execute(query, args).fetchall()
        return [_card(row) for row in rows]

    def due_count(self) -> int:
        with self._sql("read review cards"):
            return int(self.conn.execute("SELECT count(*) FROM review_cards WHERE due <= ?",
                                         (self.now().timestamp(),)).fetchone()[0])

    def next_due(self) -> datetime | None:
        with self._sql("read review cards"):
            row = self.conn.execute("SELECT min(due) FROM review_cards").fetchone()
        return None if row[0] is None else datetime.fromtimestamp(row[0], timezone.utc)

    def review(self, card_id: int, outcome: str, *, answer: str | None = None, grade: dict | None = None) -> datetime:
        """Reschedule a card after an answer graded `outcome`; returns when it is due next."""
        import fsrs

        now = self.now()
        with self._sql("update a review card"), transaction(self.conn) as conn:
            row = conn.execute("SELECT fsrs FROM review_cards WHERE id = ?", (card_id,)).fetchone()
            if row is None:
                raise StoreError(f"review card {card_id} is gone (its lesson was deleted?)")
            card, _ = self.scheduler.review_card(fsrs.Card.from_json(row["fsrs"]), _rating(outcome), now)
            conn.execute(
                "UPDATE review_cards SET fsrs = ?, due = ?, reviews = reviews + 1 WHERE id = ?",
                (card.to_json(), card.due.timestamp(), card_id),
            )
            conn.execute(
                "INSERT INTO review_log (card_id, answer, grade, rating, reviewed_at) VALUES (?, ?, ?, ?, ?)",
                (card_id, answer, None if grade is None else json.dumps(grade, ensure_ascii=False),
                 RATINGS[outcome].lower(), now.timestamp()),
            )
        return card.due

    def _sql(self, doing: str):
        return _StoreErrors(doing)


class _StoreErrors:
    """Turns a SQLite failure into a one-line StoreError."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot {self.doing} in the history database: {exc}") from None
        return False


def _rating(outcome: str):
    import fsrs

    if outcome not in RATINGS:
        raise ValueError(f"unknown outcome {outcome!r}")
    return getattr(fsrs.Rating, RATINGS[outcome])


def _card(row: sqlite3.Row) -> ReviewCard:
    return ReviewCard(
        id=row["id"], topic=row["topic"], question=row["question"], reference=row["reference"],
        concept=row["concept"], due=datetime.fromtimestamp(row["due"], timezone.utc), reviews=row["reviews"],
    )


def due_phrase(count: int) -> str:
    return f"{count} card{'s' if count != 1 else ''} due: tutor review"
