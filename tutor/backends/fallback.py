"""`--backend auto`: OpenAI first, and the local model for any answer OpenAI cannot start."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from tutor.backends.base import Backend

from tutor.errors import BackendError, TutorError
from tutor.options import GenerationOptions, Message, Usage


class FallbackBackend:
    """Try `primary`; if it fails before its first chunk, answer with the fallback instead.

    A failure after text has arrived is not retried elsewhere: the partial answer stays with
    the learner and the error propagates, because silently restarting would show two different
    answers glued together.

    Args:
        primary: the backend to try first (OpenAI).
        make_fallback: builds the fallback on first need, so the local model is loaded only
            when OpenAI actually fails.
        notify: shows a one-line notice (the CLI prints it on stderr).
    """

    def __init__(
        self,
        primary: Backend,
        make_fallback: Callable[[], Backend],
        notify: Callable[[str], None],
    ) -> None:
        self.primary = primary
        self._make_fallback = make_fallback
        self._fallback: Backend | None = None
        self._notify = notify
        self._answered_by: Backend = primary

    @property
    def name(self) -> str:
        return self._answered_by.name

    @property
    def model(self) -> str:
        return self._answered_by.model

    @property
    def last_usage(self) -> Usage | None:
        return self._answered_by.last_usage

    def fallback(self) -> Backend:
        if self._fallback is None:
            self._fallback = self._make_fallback()
        return self._fallback

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self._answered_by = self.primary
        produced = False
        try:
            for chunk in self.primary.stream(messages, options):
                produced = True
                yield chunk
            return
        except BackendError as exc:
            if produced or exc.partial:
                raise
            error = exc
        reason = str(error).rstrip(". ")
        try:
            fallback = self.fallback()
        except TutorError as local_error:  # say both: the OpenAI error is the one to fix
            raise BackendError(
                f"{self.primary.name} failed: {reason}; and the local fallback cannot start: {local_error}"
            ) from None
        self._notify(f"{self.primary.name} failed: {reason}; answering with local {fallback.model}")
        self._answered_by = fallback
        yield from fallback.stream(messages, options)
