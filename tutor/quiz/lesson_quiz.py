"""`/quiz [N]` in the feedback loop and `tutor quiz`: the quiz on the lesson's latest explanation.

This is the quiz package's one link to the terminal: it shows the quiz through the lesson's own
renderer (so model text is sanitized like any answer) and its consoles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from rich.markup import escape

from tutor.errors import EXIT_INTERRUPTED, TutorError, UsageError
from tutor.quiz.questions import MAX_QUESTIONS, generate_questions
from tutor.quiz.session import QuizResult, QuizSession
from tutor.display import print_error

if TYPE_CHECKING:
    from tutor.backends.base import Backend
    from tutor.conversation import Conversation
    from tutor.lesson_io import Answer, Terminal
    from tutor.options import GenerationOptions
    from tutor.prompts import PromptSet
    from tutor.quiz.keeper import QuizKeeper

DEFAULT_QUESTIONS = 3
KeeperFactory = Callable[[], "QuizKeeper | None"]


class QuizzedLesson(Protocol):
    """What a quiz uses of the lesson it runs in (`tutor.lesson.Lesson`, which runs the quizzes:
    a protocol here keeps the two modules from importing each other)."""

    conversation: Conversation
    backend: Backend
    prompts: PromptSet
    options: GenerationOptions
    terminal: Terminal

    def answer(self) -> Answer: ...

    def handle(self, line: str) -> None: ...


class TerminalQuizIO:
    """A `QuizIO` on the lesson's terminal."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def show(self, markdown: str) -> None:
        self.terminal.render(iter([markdown + "\n"]))

    def note(self, text: str) -> None:
        self.terminal.err.print(f"[dim]{escape(text)}[/]", highlight=False)

    def error(self, message: object) -> None:
        print_error(self.terminal.err, message)

    def read(self, prompt: str) -> str:
        try:
            return self.terminal.read_line(prompt)
        except (EOFError, KeyboardInterrupt):
            self.terminal.err.print()  # the cursor is still after the prompt
            raise


def question_count(argument: str) -> int:
    if not argument:
        return DEFAULT_QUESTIONS
    try:
        count = int(argument)
    except ValueError:
        raise UsageError(f"usage: /quiz [N], with N from 1 to {MAX_QUESTIONS}") from None
    if not 1 <= count <= MAX_QUESTIONS:
        raise UsageError(f"a quiz has 1 to {MAX_QUESTIONS} questions, not {count}")
    return count


def quiz_lesson(lesson: QuizzedLesson, argument: str, *, keeper: KeeperFactory | None = None) -> QuizResult | None:
    """Quiz the learner on the lesson's latest explanation, then offer to re-explain what was missed.

    Returns None when the quiz did not start (Ctrl-C while the questions were written).
    """
    count = question_count(argument)
    explanation = lesson.conversation.latest_answer
    if not explanation or not explanation.strip():
        raise UsageError("there is no explanation to quiz on yet: ask for one first (/retry)")
    io = TerminalQuizIO(lesson.terminal)
    io.note(f"writing {count} question{'s' if count > 1 else ''} on this explanation…")
    try:
        questions = generate_questions(
            lesson.backend, prompts=lesson.prompts, topic=lesson.conversation.topic,
            explanation=explanation, count=count, options=lesson.options,
        )
    except KeyboardInterrupt:
        io.note("(quiz cancelled)")
        return None
    kept = keeper() if keeper is not None else None
    try:
        result = QuizSession(
            lesson.backend, prompts=lesson.prompts, options=lesson.options, io=io,
            keep=kept.keep if kept is not None else None,
        ).run(questions)
    finally:
        if kept is not None:
            kept.close()
    if result.missed and not result.left_early:
        offer_revision(lesson, result, io)
    return result


def offer_revision(lesson: QuizzedLesson, result: QuizResult, io: TerminalQuizIO) -> None:
    try:
        reply = io.read("Re-explain the missed part? (y/N) ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        return
    if reply in ("y", "yes"):
        lesson.handle(result.revision_feedback(lesson.prompts))


def quiz_only(lesson: QuizzedLesson, count: int, *, keeper: KeeperFactory | None = None) -> int:
    """`tutor quiz`: answer a pending request first, then quiz. Returns the exit code."""
    if lesson.conversation.awaiting_answer:
        first = lesson.answer()
        if first.status != "done":
            return first.error.exit_code if first.error is not None else EXIT_INTERRUPTED
    try:
        quiz_lesson(lesson, str(count), keeper=keeper)
    except TutorError as exc:
        print_error(lesson.terminal.err, exc)
        return exc.exit_code
    return 0
