"""What a lesson talks to: the terminal it reads and writes, the recorder that keeps each answer
as it streams, and the `Answer` that tells both how a turn ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from rich.console import Console

from tutor.backends.base import Backend
from tutor.conversation import Conversation
from tutor.errors import TutorError
from tutor.options import Usage


@dataclass
class Answer:
    """How one streamed answer ended."""

    text: str
    status: str  # "done", "interrupted" or "error"
    error: TutorError | None = None


class LessonRecorder(Protocol):
    """Keeps the lesson as it happens (the history store implements this).

    `answer_chunk` is called for every chunk, so an implementation must be cheap and decide
    itself how often to write.
    """

    def answer_started(
        self, conversation: Conversation, feedback: str | None, backend: Backend, *, retry: bool = False
    ) -> None: ...

    def answer_chunk(self, chunk: str) -> None: ...

    def answer_finished(self, conversation: Conversation, answer: "Answer", usage: Usage | None) -> None: ...


class NoRecorder:
    """Stores nothing (`--no-history`)."""

    def answer_started(
        self, conversation: Conversation, feedback: str | None, backend: Backend, *, retry: bool = False
    ) -> None:
        pass

    def answer_chunk(self, chunk: str) -> None:
        pass

    def answer_finished(self, conversation: Conversation, answer: "Answer", usage: Usage | None) -> None:
        pass


@dataclass
class Terminal:
    """Where the lesson reads and writes.

    Args:
        out: console for the explanations (stdout).
        err: console for notices, footers and errors (stderr), so a pipe gets only answers.
        render: streams chunks onto `out` and returns the text (live Markdown or plain).
        read_line: reads one line of feedback; raises EOFError or KeyboardInterrupt.
        headings: write a heading before each answer on `out`, and a rule between answers:
            an interactive lesson whose stdout is a file reads as a document, not as answers
            run together.
    """

    out: Console
    err: Console
    render: Callable[[Iterable[str]], str]
    read_line: Callable[[str], str]
    headings: bool = False
