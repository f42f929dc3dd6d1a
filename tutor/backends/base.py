"""The backend protocol shared by OpenAI and the local model.

A backend implements one method, `stream(messages, options)`, which yields plain `str` chunks.
After the iterator is exhausted (or closed), `last_usage` describes that answer. Everything
else (history, rendering, retries of the whole answer, fallbacks) lives above this layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Protocol, Sequence, TypedDict

from tutor.errors import UsageError

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling options. `None` means "the backend's own default".

    Args:
        temperature: 0 means greedy decoding; bounded to 0..2 like OpenAI.
        max_tokens: upper bound on new tokens for one answer.
        top_p: nucleus sampling mass, in (0, 1].
        top_k: keep only the k most likely tokens (local backend only).
        repetition_penalty: >1 discourages repeats (local backend only).
        seed: makes sampling reproducible.
    """

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            ("temperature", self.temperature, lambda v: 0 <= v <= 2, "between 0 and 2"),
            ("max-tokens", self.max_tokens, lambda v: v >= 1, "at least 1"),
            ("top-p", self.top_p, lambda v: 0 < v <= 1, "greater than 0 and at most 1"),
            ("top-k", self.top_k, lambda v: v >= 1, "at least 1"),
            ("repetition-penalty", self.repetition_penalty, lambda v: v > 0, "greater than 0"),
            ("seed", self.seed, lambda v: v >= 0, "0 or more"),
        ]
        for name, value, ok, wanted in checks:
            if value is not None and not ok(value):
                raise UsageError(f"--{name} must be {wanted}, got {value}")


@dataclass
class Usage:
    """What one answer cost and how fast it came.

    Times are in seconds. Token counts are None when the backend could not tell.
    """

    backend: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    time_to_first_token: float | None = None
    total_time: float | None = None
    finish_reason: str | None = None
    prompt_tokens_read: int | None = None  # prompt tokens actually processed; the rest came from a cache
    notice: str | None = None  # something the learner should know about this answer, e.g. what was cut

    @property
    def tokens_per_second(self) -> float | None:
        """Decode speed: tokens after the first one, over the time after the first one."""
        if not self.completion_tokens or self.total_time is None or self.time_to_first_token is None:
            return None
        decode_time = self.total_time - self.time_to_first_token
        if self.completion_tokens < 2 or decode_time <= 0:
            return None
        return (self.completion_tokens - 1) / decode_time


@dataclass
class UsageMeter:
    """Times one answer so that every backend measures the same way.

    Call `start()` before the request, `chunk()` for every non-empty chunk, then `finish()`.
    """

    backend: str
    model: str
    clock: Callable[[], float] = time.perf_counter
    _started: float | None = field(default=None, init=False)
    _first: float | None = field(default=None, init=False)

    def start(self) -> None:
        self._started = self.clock()
        self._first = None

    def chunk(self) -> None:
        if self._first is None:
            self._first = self.clock()

    @property
    def has_output(self) -> bool:
        return self._first is not None

    def finish(
        self,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        finish_reason: str | None = None,
    ) -> Usage:
        now = self.clock()
        started = self._started if self._started is not None else now
        return Usage(
            backend=self.backend,
            model=self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            time_to_first_token=None if self._first is None else self._first - started,
            total_time=now - started,
            finish_reason=finish_reason,
        )


class Backend(Protocol):
    """What the conversation loop needs from a backend."""

    name: str  # "openai" or "local"; shown in notices and the footer
    model: str  # the model as the learner would name it

    @property
    def last_usage(self) -> Usage | None:
        """Usage of the most recent `stream` call, set once it ends (also when interrupted)."""

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Yield the answer as text chunks. Closing the iterator must stop generation promptly.

        Raises:
            BackendError: the answer could not be produced; `partial` holds any text so far.
        """
