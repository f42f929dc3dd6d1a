"""Quiz questions, answers, grades and hints, kept with the lesson they checked."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Callable

from tutor.errors import StoreError
from tutor.history.db import transaction
from tutor.history.records import QuizItemRecord

OUTCOMES = ("correct", "partly", "incorrect", "skipped", "revealed")


class QuizLog:
    """Writes and reads `quiz_items` on an open history connection.

    Args:
        conn: from `tutor.history.db.connect`; the caller closes it.
        clock: Unix time for timestamps.
    """

    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def next_quiz(self, lesson_id: str) -> int:
        """The number the lesson's next quiz gets (1 for its first)."""
        try:
            row = self.conn.execute(
                "SELECT coalesce(max(quiz), 0) + 1 FROM quiz_items WHERE lesson_id = ?", (lesson_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the quiz history: {exc}") from None
        return int(row[0])

    def add(self, lesson_id: str, quiz: int, item: QuizItemRecord) -> None:
        """Store (or update) one question of quiz `quiz`; it belongs after the lesson's latest turn."""
        if item.outcome not in OUTCOMES:
            raise ValueError(f"unknown quiz outcome {item.outcome!r}")
        try:
            with transaction(self.conn) as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO quiz_items (lesson_id, quiz, seq, after_turn, difficulty, question,"
                    " reference, concept, attempts, hint, outcome, created_at)"
                    " VALUES (?, ?, ?, (SELECT max(seq) FROM turns WHERE lesson_id = ?), ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        lesson_id, quiz, item.seq, lesson_id, item.difficulty, item.question, item.reference,
                        item.concept, json.dumps(item.attempts, ensure_ascii=False), item.hint or None,
                        item.outcome, self.clock(),
                    ),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save the quiz answer: {exc}") from None


def quiz_items(conn: sqlite3.Connection, lesson_id: str) -> list[QuizItemRecord]:
    """Every quiz question of a lesson in the order asked; [] for a database without quizzes."""
    try:
        rows = conn.execute(
            "SELECT * FROM quiz_items WHERE lesson_id = ? ORDER BY quiz, seq", (lesson_id,)
        ).fetchall()
    except sqlite3.OperationalError:  # a database from before quizzes that could not migrate
        return []
    return [
        QuizItemRecord(
            quiz=row["quiz"], seq=row["seq"], after_turn=row["after_turn"], difficulty=row["difficulty"],
            question=row["question"], reference=row["reference"], concept=row["concept"],
            attempts=_attempts(row["attempts"]), hint=row["hint"] or "", outcome=row["outcome"],
            created_at=row["created_at"],
        )
        for row in rows
    ]


def _attempts(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []
