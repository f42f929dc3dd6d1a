"""Grading a learner's short answer against a reference answer: correct, partly or incorrect.

The quiz, `tutor review` and `bench/quiz_eval.py` all grade through `grade_answer`, so the
benchmark measures exactly what the learner gets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from tutor.backends.base import Backend

from tutor.errors import UsageError
from tutor.options import GenerationOptions, Message
from tutor.prompts import PromptSet
from tutor.quiz.questions import quiz_prompt
from tutor.quiz.structured import ask_json

VERDICTS = ("correct", "partly", "incorrect")
IDEA_STATES = ("stated", "missing", "contradicted")
QUOTE_MATCH = 0.6  # share of the quoted words that must occur in the learner's answer
MAX_ANSWER_CHARS = 2000  # a short answer; longer text is pasted by mistake

GRADE_SCHEMA: dict[str, Any] = {
    "title": "grade",
    "type": "object",
    "properties": {
        # The key ideas come first so that the verdict is decided after them, not before.
        "key_ideas": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "idea": {"type": "string"},
                    "learner_words": {"type": "string"},
                    "in_answer": {"type": "string", "enum": list(IDEA_STATES)},
                },
                "required": ["idea", "learner_words", "in_answer"],
                "additionalProperties": False,
            },
        },
        "verdict": {"type": "string", "enum": list(VERDICTS)},
        "feedback": {"type": "string"},
        "misconception": {"type": "string"},
        "hint": {"type": "string"},
    },
    "required": ["key_ideas", "verdict", "feedback", "misconception", "hint"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Grade:
    """The grader's decision on one answer.

    Args:
        verdict: "correct", "partly" or "incorrect".
        feedback: one or two sentences to the learner on why.
        misconception: the misconception behind the answer; empty when there is none.
        hint: a nudge towards the reference answer for another try; empty when correct.
        reasoning: the grader's own reasoning, kept for the history but not shown.
    """

    verdict: str
    feedback: str
    misconception: str = ""
    hint: str = ""
    reasoning: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grade:
        return cls(**{k: str(data.get(k) or "") for k in ("verdict", "feedback", "misconception", "hint", "reasoning")})


def clean_answer(text: str) -> str:
    """The learner's answer without control characters and runs of whitespace.

    Raises:
        UsageError: the answer is empty or too long to be a short answer.
    """
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    answer = " ".join(kept.split())
    if not answer:
        raise UsageError("the answer is empty: type an answer, or /skip, /reveal, /quit")
    if len(answer) > MAX_ANSWER_CHARS:
        raise UsageError(f"the answer is {len(answer):,} characters long; keep it under {MAX_ANSWER_CHARS:,}")
    return answer


def grading_messages(prompts: PromptSet, *, question: str, reference: str, answer: str) -> list[Message]:
    return [
        {"role": "system", "content": quiz_prompt(prompts, "quiz_system")},
        {
            "role": "user",
            "content": quiz_prompt(prompts, "quiz_grade", question=question, reference=reference, answer=answer),
        },
    ]


def grade_answer(
    backend: Backend,
    *,
    prompts: PromptSet,
    question: str,
    reference: str,
    answer: str,
    options: GenerationOptions,
) -> Grade:
    """Grade `answer` (already cleaned) to `question` against `reference`.

    Raises:
        MalformedReply: the grader twice failed to reply with a valid grade.
        BackendError: the backend failed.
    """
    messages = grading_messages(prompts, question=question, reference=reference, answer=answer)
    value = ask_json(backend, messages, GRADE_SCHEMA, options, what="grading reply")
    ideas = [checked_idea(idea, answer) for idea in value["key_ideas"]]
    verdict = verdict_from_ideas(ideas) or value["verdict"]
    reasoning = "; ".join(f"{i['idea'].strip()}: {i['in_answer']}" for i in ideas)
    return Grade(
        verdict=verdict,
        feedback=value["feedback"].strip(),
        misconception="" if verdict == "correct" else value["misconception"].strip(),
        hint="" if verdict == "correct" else value["hint"].strip(),
        reasoning=f"{reasoning} -> model said {value['verdict']}",
    )


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def checked_idea(idea: dict[str, str], answer: str) -> dict[str, str]:
    """An idea the model calls "stated" only counts when the learner's words it quotes are in
    the answer: small models mark reference ideas as stated on the strength of the reference
    alone (BENCHMARKS.md, "Grading accuracy")."""
    if idea["in_answer"] != "stated":
        return idea
    quoted, present = _words(idea.get("learner_words", "")), set(_words(answer))
    if quoted and sum(word in present for word in quoted) >= QUOTE_MATCH * len(quoted):
        return idea
    return {**idea, "in_answer": "missing"}


def verdict_from_ideas(ideas: list[dict[str, str]]) -> str | None:
    """The verdict the key-idea checklist implies, which the prompt's rule states; None without
    ideas. Small models apply the rule less reliably than they judge each idea (see BENCHMARKS.md,
    "Grading accuracy"), so the checklist decides."""
    states = [idea["in_answer"] for idea in ideas]
    if not states:
        return None
    if "contradicted" in states or "stated" not in states:
        return "incorrect"
    return "correct" if all(state == "stated" for state in states) else "partly"
