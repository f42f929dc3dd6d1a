"""What a stored lesson looks like when read back: the lesson, its turns, a history row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutor.conversation import Conversation
    from tutor.options import Message


@dataclass
class Turn:
    """One answer: the feedback that asked for it, its text, and how it ended."""

    seq: int
    feedback: str | None
    answer: str
    status: str  # "streaming", "done", "interrupted" or "error"
    error: str | None
    backend: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    time_to_first_token: float | None
    tokens_per_second: float | None
    started_at: float
    finished_at: float | None
    retry: bool = False  # answers the previous turn's request again (/retry); feedback is the retried one


@dataclass
class QuizItemRecord:
    """One quiz question as asked: the learner's attempts with their grades, and how it ended.

    `attempts` holds `{"answer": str, "grade": {verdict, feedback, misconception, hint, reasoning}}`
    dicts; `outcome` is correct, partly, incorrect, skipped or revealed.
    """

    seq: int
    difficulty: str
    question: str
    reference: str
    concept: str
    attempts: list[dict[str, Any]]
    hint: str
    outcome: str
    quiz: int = 1
    after_turn: int | None = None
    created_at: float | None = None


@dataclass
class LessonSummary:
    """A row of `tutor history`."""

    id: str
    topic: str
    level: str
    backend: str
    model: str
    created_at: float
    updated_at: float
    turns: int
    status: str | None  # of the latest turn; None when there is none


@dataclass
class StoredLesson:
    """A whole lesson, as `show`, `export` and `resume` need it."""

    id: str
    topic: str
    level: str
    backend: str
    model: str
    prompts: str
    messages: list[Message] | None  # None: damaged beyond reading; the lesson cannot be resumed
    created_at: float
    updated_at: float
    turns: list[Turn] = field(default_factory=list)
    quiz: list[QuizItemRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the --notes paths it was grounded in
    damaged: list[str] = field(default_factory=list)  # parts stored as invalid UTF-8: "turn 2 (answer)"

    def damage_notice(self) -> str | None:
        """One line naming the damaged parts, or None when the lesson read back whole."""
        if not self.damaged:
            return None
        return (
            f"lesson {self.id} is damaged in: {'; '.join(self.damaged)}. "
            "The rest is shown; bytes that could not be read show as \ufffd"
        )

    @property
    def latest_answer(self) -> str | None:
        for turn in reversed(self.turns):
            if turn.answer:
                return turn.answer
        return None

    def conversation(self) -> Conversation:
        """The conversation to resume. An answer cut off by a crash is kept as the learner saw it,
        as Ctrl-C would have kept it."""
        from tutor.conversation import Conversation
        from tutor.errors import StoreError

        if self.messages is None:
            raise StoreError(
                f"lesson {self.id} has damaged messages; it cannot be resumed "
                f"(tutor show {self.id} --all shows what is left)"
            )
        conversation = Conversation(self.topic, self.level, [dict(m) for m in self.messages])  # type: ignore[misc]
        last = self.turns[-1] if self.turns else None
        if conversation.awaiting_answer and last and last.answer and last.finished_at is None:
            conversation.record_answer(last.answer)
        return conversation
