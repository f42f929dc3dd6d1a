"""The lesson as a list of chat messages: explain, then feedback and revisions. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from tutor.errors import UsageError
from tutor.options import Message
from tutor.prompts import PromptSet

_UNDECODABLE = re.compile("[\ud800-\udfff]")

LEVEL_HINTS = {
    "beginner": "beginner (no background assumed; plain words, analogies, little math)",
    "intermediate": "intermediate (comfortable with the basics; some math and code are fine)",
    "expert": "expert (wants depth, precise terminology, the math and the edge cases)",
}


class NotesContext(Protocol):
    """Notes passages for a lesson's first turn (`tutor.notes.GroundedContext`)."""

    def wrap_system(self, system: str) -> str: ...

    def wrap(self, request: str) -> str: ...


def require_decodable(text: str, what: str) -> str:
    """`text` unchanged, or a UsageError when it holds bytes its terminal could not decode.

    Python keeps such bytes (from argv, or stdin in UTF-8 mode) as lone surrogates, which no
    model API, tokenizer or database accepts: one would fail the answer and switch the history
    off, so they are refused where the learner typed them.
    """
    if _UNDECODABLE.search(text):
        raise undecodable_error(what)
    return text


def undecodable_error(what: str) -> UsageError:
    return UsageError(
        f"{what} has bytes that are not valid UTF-8: set your terminal to UTF-8 (e.g. LANG=C.UTF-8) "
        "and type it again"
    )


def clean_topic(topic: str) -> str:
    """The topic without surrounding whitespace; an empty or undecodable topic is a usage error."""
    cleaned = " ".join(require_decodable(topic, "the topic").split())
    if not cleaned:
        raise UsageError('the topic is empty: try  tutor explain "Transformers in ML"')
    return cleaned


@dataclass
class Conversation:
    """The whole history sent to the backend on every turn.

    Each revision request carries the full history, so the model sees its previous answer and
    the feedback on it and can write a complete improved explanation.
    """

    topic: str
    level: str
    messages: list[Message] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        prompts: PromptSet,
        topic: str,
        level: str,
        *,
        notes: NotesContext | None = None,
    ) -> "Conversation":
        """The system prompt and the explain request.

        Args:
            notes: passages from the learner's notes (`--notes`); the prompt set's grounded
                templates put them into the system prompt and may reword the request.
        """
        topic = clean_topic(topic)
        level_text = LEVEL_HINTS.get(level, level)
        system = prompts.render("system")
        request = prompts.render("explain", topic=topic, level=level_text)
        if notes is not None:
            system, request = notes.wrap_system(system), notes.wrap(request)
        messages: list[Message] = [
            {"role": "system", "content": system},
            {"role": "user", "content": request},
        ]
        return cls(topic=topic, level=level, messages=messages)

    @property
    def awaiting_answer(self) -> bool:
        return self.messages[-1]["role"] == "user"

    @property
    def latest_answer(self) -> str | None:
        for message in reversed(self.messages):
            if message["role"] == "assistant":
                return message["content"]
        return None

    @property
    def answer_count(self) -> int:
        return sum(1 for m in self.messages if m["role"] == "assistant")

    def record_answer(self, text: str) -> None:
        """Store the answer the learner saw (a partial one too, so feedback can refer to it)."""
        if not self.awaiting_answer:
            raise RuntimeError("record_answer called twice without a request in between")
        self.messages.append({"role": "assistant", "content": text})

    def add_feedback(self, prompts: PromptSet, feedback: str) -> None:
        feedback = feedback.strip()
        if not feedback:
            raise UsageError("feedback is empty")
        if self.awaiting_answer and len(self.messages) > 2:
            # The last revision request got no answer (it failed): the new feedback replaces it
            # rather than stacking two unanswered asks. The explain request is always kept.
            self.messages.pop()
        request = prompts.render("revise", feedback=feedback, hints=prompts.hints(feedback))
        self.messages.append({"role": "user", "content": request})

    def add_request(self, request: str) -> None:
        """Ask something other than a revision (a Socratic reply, a reveal). Like feedback, it
        replaces a request that got no answer; the explain request is always kept."""
        if self.awaiting_answer and len(self.messages) > 2:
            self.messages.pop()
        self.messages.append({"role": "user", "content": request})

    def set_system(self, text: str) -> None:
        """Replace the system prompt, e.g. with more notes passages after feedback."""
        self.messages[0] = {"role": "system", "content": text}

    def forget_last_answer(self) -> None:
        """Drop the latest answer so the same request can be answered again (`/retry`)."""
        if self.messages[-1]["role"] == "assistant":
            self.messages.pop()
