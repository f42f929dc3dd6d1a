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


IDEAS = {
    "correct": [{"idea": "the key idea", "in_answer": "stated"}],
    "partly": [{"idea": "one idea", "in_answer": "stated"}, {"idea": "another idea", "in_answer": "missing"}],
    "incorrect": [{"idea": "the key idea", "in_answer": "contradicted"}],
}


def grade(verdict: str, feedback: str, *, misconception: str = "", hint: str = "") -> dict:
    """A grading reply as the model sends it: the key-idea checklist, then the verdict."""
    return {"key_ideas": IDEAS[verdict], "verdict": verdict, "feedback": feedback,
            "misconception": misconception, "hint": hint}


CORRECT = grade("correct", "Yes: the chloroplasts are where it happens.")
PARTLY = grade("partly", "Water is one input, but not the only one.", hint="Think about what the leaves take from the air.")
WRONG = grade("incorrect", "Oxygen is an output, not an input.", misconception="confuses inputs with outputs",
              hint="Which gas do plants take in?")
