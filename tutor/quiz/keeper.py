"""Keeps a quiz as it happens: the questions in the lesson's history, each one as a review
card, and missed concepts in the learner profile.

Like the history recorder, a failing store must not end the quiz: it is reported once and the
quiz goes on without being kept.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from tutor.errors import TutorError
from tutor.history.db import connect
from tutor.history.quiz_log import QuizLog
from tutor.history.records import QuizItemRecord
from tutor.quiz.profile import ProfileStore
from tutor.quiz.review import ReviewDeck


class QuizKeeper:
    """Args:
        conn: an open history connection; `close()` closes it.
        lesson_id: the stored lesson the quiz belongs to.
        topic: the lesson's topic, for the review cards.
        profile: record missed concepts in the learner profile.
        notify: prints a one-line warning, at most once.
    """

    def __init__(self, conn: sqlite3.Connection, *, lesson_id: str, topic: str, profile: bool,
                 notify: Callable[[str], None], deck: ReviewDeck | None = None) -> None:
        self.conn = conn
        self.lesson_id = lesson_id
        self.topic = topic
        self.profile = profile
        self.notify = notify
        self.log = QuizLog(conn)
        self.deck = deck or ReviewDeck(conn)
        self.quiz = self.log.next_quiz(lesson_id)
        self._failed = False

    @classmethod
    def open(cls, *, lesson_id: str | None, topic: str, profile: bool,
             notify: Callable[[str], None]) -> QuizKeeper | None:
        """A keeper on the history database, or None (after a notice) when there is no stored lesson."""
        if lesson_id is None:
            notify("this quiz is not kept: the lesson is not in the history")
            return None
        try:
            conn = connect(notify=notify)
            assert conn is not None
            return cls(conn, lesson_id=lesson_id, topic=topic, profile=profile, notify=notify)
        except TutorError as exc:
            notify(f"this quiz is not kept: {exc}")
            return None

    def keep(self, item: QuizItemRecord) -> None:
        if self._failed:
            return
        try:
            self.log.add(self.lesson_id, self.quiz, item)
            self.deck.add(lesson_id=self.lesson_id, topic=self.topic, question=item.question,
                          reference=item.reference, concept=item.concept, outcome=item.outcome)
            if self.profile and item.outcome != "correct":
                store = ProfileStore(self.conn)
                profile = store.load()
                profile.observe_missed(item.concept)
                store.save(profile)
        except TutorError as exc:
            self._failed = True
            self.notify(f"the rest of this quiz is not kept: {exc}")

    def close(self) -> None:
        self.conn.close()
