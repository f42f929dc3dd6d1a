"""Spaced review with FSRS, on an injected clock: nothing here waits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import fsrs
import pytest

from tutor.history.db import connect
from tutor.quiz.review import ReviewDeck

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def deck():
    conn = connect()
    clock = Clock(START)
    yield ReviewDeck(conn, now=clock, scheduler=fsrs.Scheduler(enable_fuzzing=False)), clock
    conn.close()


def add(deck, question, outcome, topic="Photosynthesis"):
    return deck.add(lesson_id=None, topic=topic, question=question, reference="ref", concept="c", outcome=outcome)


def test_a_card_graded_again_comes_back_sooner_than_one_graded_good(deck):
    deck, clock = deck
    again = add(deck, "missed", "incorrect")
    good = add(deck, "known", "correct")
    assert deck.due() == []  # nothing is due at the moment it was answered
    clock.now = START + timedelta(minutes=5)
    assert [card.id for card in deck.due()] == [again]
    clock.now = START + timedelta(minutes=30)
    assert [card.id for card in deck.due()] == [again, good]
    # Answered again at the same moment: "again" is back within minutes, "good" after days.
    again_due = deck.review(again, "incorrect")
    good_due = deck.review(good, "correct")
    assert again_due - clock.now < timedelta(hours=1)
    assert good_due - clock.now >= timedelta(days=1)
    assert again_due < good_due


def test_a_good_streak_pushes_the_card_further_out(deck):
    deck, clock = deck
    card = add(deck, "q", "correct")
    gaps = []
    for _ in range(4):
        clock.now = deck.next_due()
        due = deck.review(card, "correct")
        gaps.append(due - clock.now)
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]


def test_due_cards_filter_by_topic_and_count(deck):
    deck, clock = deck
    add(deck, "q1", "incorrect", topic="Photosynthesis")
    add(deck, "q2", "incorrect", topic="Recursion")
    clock.now = START + timedelta(days=1)
    assert deck.due_count() == 2
    assert [c.question for c in deck.due(topic="recur")] == ["q2"]
    assert deck.due(topic="100%_") == []  # LIKE wildcards are taken literally
    assert len(deck.due(limit=1)) == 1


def test_a_review_is_logged_with_the_answer(deck):
    deck, clock = deck
    card = add(deck, "q", "incorrect")
    clock.now = START + timedelta(days=1)
    deck.review(card, "partly", answer="half", grade={"verdict": "partly"})
    row = deck.conn.execute("SELECT answer, rating FROM review_log").fetchone()
    assert (row["answer"], row["rating"]) == ("half", "hard")
    assert deck.conn.execute("SELECT reviews FROM review_cards WHERE id = ?", (card,)).fetchone()[0] == 2
