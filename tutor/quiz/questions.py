"""Check questions on an explanation: generated as JSON, at rising difficulty, never yes/no."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tutor.backends.base import Backend

from tutor.errors import UsageError
from tutor.options import GenerationOptions, Message
from tutor.prompts import PromptSet, shipped_prompts_dir
from tutor.quiz.structured import ask_json

DIFFICULTIES = ("easy", "medium", "hard")
MAX_QUESTIONS = 10
MAX_EXPLANATION_CHARS = 12000  # about 3,000 tokens: enough for any explanation we stream

# A question opening with one of these words is answered by "yes" or "no".
_YES_NO_OPENERS = re.compile(
    r"^(is|are|was|were|am|do|does|did|can|could|will|would|should|shall|has|have|had|may|might|must)"
    r"(n't|not)?\b|^true or false|^(is it|does it) true",
    re.IGNORECASE,
)

QUESTIONS_SCHEMA: dict[str, Any] = {
    "title": "check_questions",
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
                    "question": {"type": "string"},
                    "reference_answer": {"type": "string"},
                    "concept": {"type": "string"},
                },
                "required": ["difficulty", "question", "reference_answer", "concept"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Question:
    """One check question with what a right answer says."""

    text: str
    reference_answer: str
    concept: str
    difficulty: str


def quiz_prompt(prompts: PromptSet, name: str, **variables: str) -> str:
    """`name.md` from the lesson's prompts folder when it has one, else the shipped one, so a
    learner's own `--prompts` folder need not carry the quiz prompts."""
    if not (prompts.directory / f"{name}.md").is_file():
        prompts = PromptSet(shipped_prompts_dir())
    return prompts.render(name, **variables)


def is_yes_no(question: str) -> bool:
    return bool(_YES_NO_OPENERS.match(question.strip().lstrip("*_ ").strip()))


def difficulty_ladder(count: int) -> list[str]:
    """Rising difficulty for `count` questions: 3 -> easy, medium, hard; 5 -> easy, easy, medium, medium, hard."""
    return [DIFFICULTIES[min(2, i * 3 // count)] for i in range(count)]


def _check(count: int):
    def problems(value: dict) -> list[str]:
        found = value["questions"]
        out = [] if len(found) >= count else [f"asked for {count} questions, got {len(found)}"]
        for i, item in enumerate(found[:count]):
            if not item["question"].strip() or not item["reference_answer"].strip():
                out.append(f"question {i + 1} or its reference answer is empty")
            elif is_yes_no(item["question"]):
                out.append(f"question {i + 1} is a yes/no question; ask how, why or what instead")
        return out

    return problems


def generate_questions(
    backend: Backend,
    *,
    prompts: PromptSet,
    topic: str,
    explanation: str,
    count: int,
    options: GenerationOptions,
) -> list[Question]:
    """`count` questions answerable from `explanation`, easiest first.

    Raises:
        UsageError: `count` is out of range or there is no explanation.
        MalformedReply: the model twice failed to give valid questions.
    """
    if not 1 <= count <= MAX_QUESTIONS:
        raise UsageError(f"a quiz has 1 to {MAX_QUESTIONS} questions, not {count}")
    if not explanation.strip():
        raise UsageError("there is no explanation to quiz on yet")
    ladder = difficulty_ladder(count)
    messages: list[Message] = [
        {"role": "system", "content": quiz_prompt(prompts, "quiz_system")},
        {
            "role": "user",
            "content": quiz_prompt(
                prompts,
                "quiz_questions",
                topic=topic,
                explanation=explanation.strip()[:MAX_EXPLANATION_CHARS],
                count=str(count),
                difficulties=", ".join(ladder),
            ),
        },
    ]
    value = ask_json(backend, messages, QUESTIONS_SCHEMA, options, what="quiz questions", check=_check(count))
    questions = [
        Question(
            text=item["question"].strip(),
            reference_answer=item["reference_answer"].strip(),
            concept=item["concept"].strip() or topic,
            difficulty=wanted,  # the ladder we asked for, whatever label the model put on it
        )
        for item, wanted in zip(value["questions"], ladder)
    ]
    return questions
