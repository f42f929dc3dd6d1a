"""`tutor review`: ask the due cards again, grade the answers as a quiz does, reschedule them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from tutor.history.records import QuizItemRecord
from tutor.quiz.questions import Question
from tutor.quiz.review import ReviewCard, ReviewDeck
from tutor.quiz.session import QUIZ_HELP, LeftQuiz, QuizSession


@dataclass
class ReviewResult:
    reviewed: int = 0
    correct: int = 0
    left_early: bool = False
    next_due: datetime | None = None


def review_outcome(item: QuizItemRecord) -> str:
    """Right only after the hint is not the same as knowing it: that counts as partly (Hard)."""
    if item.outcome == "correct" and len(item.attempts) > 1:
        return "partly"
    return item.outcome


def run_review(session: QuizSession, deck: ReviewDeck, cards: Sequence[ReviewCard]) -> ReviewResult:
    """Ask each card; each answered card is rescheduled at once, so Ctrl-C loses nothing done."""
    result = ReviewResult()
    io = session.io
    io.note(QUIZ_HELP)
    for number, card in enumerate(cards, 1):
        io.show(f"**Card {number}/{len(cards)}** · *{card.topic}*\n\n{card.question}")
        question = Question(text=card.question, reference_answer=card.reference, concept=card.concept, difficulty="review")
        item = QuizItemRecord(seq=number, difficulty="review", question=card.question, reference=card.reference,
                              concept=card.concept, attempts=[], hint="", outcome="skipped")
        try:
            session.ask(question, item)
        except LeftQuiz:
            result.left_early = True
            break
        outcome = review_outcome(item)
        last = item.attempts[-1] if item.attempts else {}
        deck.review(card.id, outcome, answer=last.get("answer"), grade=last.get("grade"))
        result.reviewed += 1
        result.correct += outcome == "correct"
    result.next_due = deck.next_due()
    return result
