"""One quiz: ask each question, grade the answer, give a hint and a second try, then a score.

The session talks to the learner only through a `QuizIO`, so it never imports Rich, and keeps
each finished question through `keep` as soon as it is done: Ctrl-C loses nothing answered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from tutor.backends.base import Backend

from tutor.errors import BackendError, UsageError
from tutor.history.records import QuizItemRecord
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet
from tutor.quiz.grading import Grade, clean_answer, grade_answer
from tutor.quiz.questions import Question, quiz_prompt

SKIP, REVEAL, QUIT = "/skip", "/reveal", "/quit"
QUIZ_HELP = "type your answer · /skip moves on · /reveal shows the answer · /quit or Ctrl-C leaves the quiz"
VERDICT_LABELS = {"correct": "✓ Correct", "partly": "◐ Partly correct", "incorrect": "✗ Not quite"}


class QuizIO(Protocol):
    """Where a quiz reads and writes.

    `show` gets Markdown that may hold model text (it goes through the lesson's renderer, which
    sanitizes it); `note` and `error` get one line of tutor's own words.
    """

    def show(self, markdown: str) -> None: ...

    def note(self, text: str) -> None: ...

    def error(self, message: object) -> None: ...

    def read(self, prompt: str) -> str: ...


class LeftQuiz(Exception):
    """The learner left: /quit, an empty line at the first prompt, Ctrl-D or Ctrl-C."""


@dataclass
class QuizResult:
    items: list[QuizItemRecord] = field(default_factory=list)
    asked: int = 0
    left_early: bool = False

    @property
    def score(self) -> float:
        return sum({"correct": 1.0, "partly": 0.5}.get(item.outcome, 0.0) for item in self.items)

    @property
    def missed(self) -> list[QuizItemRecord]:
        return [item for item in self.items if item.outcome != "correct"]

    def concepts_to_revisit(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.missed:
            seen.setdefault(item.concept, None)
        return list(seen)

    def revision_feedback(self, prompts: PromptSet) -> str:
        """The feedback that asks for the missed part again, as a normal revision."""
        misconceptions = [
            attempt["grade"]["misconception"]
            for item in self.missed
            for attempt in item.attempts
            if (attempt.get("grade") or {}).get("misconception")
        ]
        said = "What I got wrong: " + "; ".join(misconceptions) + "." if misconceptions else ""
        return quiz_prompt(prompts, "quiz_revise", concepts="; ".join(self.concepts_to_revisit()), misconceptions=said)


def verdict_markdown(grade: Grade) -> str:
    lines = [f"**{VERDICT_LABELS[grade.verdict]}.** {grade.feedback}".rstrip()]
    if grade.misconception:
        lines.append(f"*Misconception:* {grade.misconception}")
    return "\n\n".join(lines)


class QuizSession:
    """Asks questions one at a time and grades them.

    Args:
        backend: grades the answers.
        prompts: the lesson's prompts (quiz prompts fall back to the shipped ones).
        options: sampling options for grading (made greedy: a grade should not be a dice roll).
        io: the terminal.
        keep: called with each finished question, and with a half-done one when the learner leaves.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        prompts: PromptSet,
        options: GenerationOptions,
        io: QuizIO,
        keep: Callable[[QuizItemRecord], None] | None = None,
    ) -> None:
        self.backend = backend
        self.prompts = prompts
        self.options = dataclasses.replace(options, temperature=0.0)
        self.io = io
        self.keep = keep or (lambda item: None)

    def run(self, questions: Sequence[Question]) -> QuizResult:
        result = QuizResult()
        self.io.note(QUIZ_HELP)
        for number, question in enumerate(questions, 1):
            result.asked = number
            self.io.show(f"**Question {number}/{len(questions)}** · *{question.difficulty}*\n\n{question.text}")
            item = QuizItemRecord(
                seq=number, difficulty=question.difficulty, question=question.text,
                reference=question.reference_answer, concept=question.concept,
                attempts=[], hint="", outcome="skipped",
            )
            try:
                self.ask(question, item)
            except LeftQuiz:
                if item.attempts:
                    self.keep(item)
                    result.items.append(item)
                result.left_early = True
                break
            self.keep(item)
            result.items.append(item)
        self.summary(result, len(questions))
        return result

    def ask(self, question: Question, item: QuizItemRecord) -> None:
        """Up to two graded tries, with a hint between them; fills `item`."""
        while len(item.attempts) < 2:
            reply = self.read_answer()
            if reply in (SKIP, REVEAL):
                item.outcome = "skipped" if reply == SKIP else "revealed"
                break
            grade = self.grade(question, reply)
            if grade is None:
                continue  # reported; the learner may answer again, /skip or /quit
            item.attempts.append({"answer": reply, "grade": grade.to_dict()})
            item.outcome = grade.verdict
            self.io.show(verdict_markdown(grade))
            if grade.verdict == "correct" or len(item.attempts) == 2:
                break
            item.hint = grade.hint or f"Think again about {question.concept}."
            self.io.show(f"**Hint:** {item.hint}")
            self.io.note("one more try (/reveal shows the answer, /skip moves on)")
        if item.outcome != "correct":
            self.io.show(f"**Answer:** {question.reference_answer}")

    def read_answer(self) -> str:
        """A cleaned answer, /skip or /reveal. Bad input is reported and asked for again."""
        while True:
            try:
                line = self.io.read("answer› ")
            except (EOFError, KeyboardInterrupt):
                raise LeftQuiz from None
            command = line.strip().lower()
            if command in (QUIT, "/exit", "/q"):
                raise LeftQuiz
            if command in (SKIP, REVEAL):
                return command
            if command.startswith("/"):
                self.io.error(f"{command.split()[0]} is not a quiz command: {QUIZ_HELP}")
                continue
            try:
                return clean_answer(line)
            except UsageError as exc:
                self.io.error(exc)

    def grade(self, question: Question, answer: str) -> Grade | None:
        """The grade, or None after reporting a failed or malformed grading reply."""
        try:
            return grade_answer(
                self.backend, prompts=self.prompts, question=question.text,
                reference=question.reference_answer, answer=answer, options=self.options,
            )
        except KeyboardInterrupt:
            raise LeftQuiz from None
        except BackendError as exc:
            self.io.error(f"{exc} (answer again, /skip or /quit)")
            return None

    def summary(self, result: QuizResult, total: int) -> None:
        if not result.items:
            self.io.note("quiz left before any answer")
            return
        lines = [f"**Score: {result.score:g}/{len(result.items)}**" + (f" (left after {result.asked} of {total})" if result.left_early else "")]
        concepts = result.concepts_to_revisit()
        if concepts:
            lines.append("To revisit: " + "; ".join(concepts))
        self.io.show("\n\n".join(lines))
