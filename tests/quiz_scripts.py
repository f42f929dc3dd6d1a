"""Scripted model replies for quiz tests: questions and grades as the JSON a server would send."""

from __future__ import annotations

EXPLANATION = "# Photosynthesis\n\nPlants turn light, water and CO2 into glucose and oxygen in the chloroplasts.\n"

QUESTIONS = {
    "questions": [
        {"difficulty": "easy", "question": "Where in the cell does photosynthesis happen?",
         "reference_answer": "In the chloroplasts.", "concept": "chloroplasts"},
        {"difficulty": "medium", "question": "What are the inputs of photosynthesis?",
         "reference_answer": "Light, water and carbon dioxide.", "concept": "inputs of photosynthesis"},
        {"difficulty": "hard", "question": "Why does a plant kept in the dark stop making glucose?",
         "reference_answer": "Without light there is no energy to drive the reactions.", "concept": "role of light"},
    ]
}


def idea(state: str, words: str = "") -> dict:
    return {"idea": "an idea", "learner_words": words, "in_answer": state}


def grade(verdict: str, feedback: str, *, words: str = "", misconception: str = "", hint: str = "") -> dict:
    """A grading reply as the model sends it: the key-idea checklist, then the verdict. `words`
    are the learner's words the checklist quotes: they must occur in the answer graded."""
    ideas = {
        "correct": [idea("stated", words)],
        "partly": [idea("stated", words), idea("missing")],
        "incorrect": [idea("contradicted")],
    }[verdict]
    return {"key_ideas": ideas, "verdict": verdict, "feedback": feedback, "misconception": misconception, "hint": hint}


CORRECT = grade("correct", "Yes: the chloroplasts are where it happens.", words="chloroplasts")
PARTLY = grade("partly", "Water is one input, but not the only one.", words="water",
               hint="Think about what the leaves take from the air.")
WRONG = grade("incorrect", "Oxygen is an output, not an input.", misconception="confuses inputs with outputs",
              hint="Which gas do plants take in?")


def make_due_card(topic: str, question: str, reference: str) -> None:
    """A review card made by a quiz a day ago and answered wrong then: due now."""
    from datetime import datetime, timedelta, timezone

    from tutor.history.db import connect
    from tutor.quiz.review import ReviewDeck

    conn = connect()
    try:
        day_ago = datetime.now(timezone.utc) - timedelta(days=1)
        ReviewDeck(conn, now=lambda: day_ago).add(
            lesson_id=None, topic=topic, question=question, reference=reference, concept=topic, outcome="incorrect"
        )
    finally:
        conn.close()
