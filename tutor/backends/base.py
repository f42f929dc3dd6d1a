"""The backend protocol shared by OpenAI and the local model.

A backend implements one method, `stream(messages, options)`, which yields plain `str` chunks.
After the iterator is exhausted (or closed), `last_usage` describes that answer. Everything
else (history, rendering, retries of the whole answer, fallbacks) lives above this layer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Iterator, Protocol, Sequence

from tutor.options import GenerationOptions, Message, Usage

# What a local model samples with where the caller leaves an option unset. OpenAI keeps its own
# defaults; both local backends (GGUF on llama.cpp, folders on transformers) share these.
LOCAL_DEFAULTS = GenerationOptions(temperature=0.2, top_p=0.9, repetition_penalty=1.1, max_tokens=1024)


def with_defaults(options: GenerationOptions, defaults: GenerationOptions) -> GenerationOptions:
    """`options` with every unset (None) field taken from `defaults`."""
    unset = {f.name: getattr(defaults, f.name) for f in fields(options) if getattr(options, f.name) is None}
    return replace(options, **unset)


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
