"""A scripted backend: queue answers (chunk lists or exceptions) and inspect what it was sent."""

from __future__ import annotations

from typing import Iterator, Sequence

from tutor.backends.base import UsageMeter
from tutor.options import GenerationOptions, Message, Usage


class Interrupt:
    """A script step: raise KeyboardInterrupt here, as Ctrl-C would mid-stream."""


class FakeBackend:
    """Answers each `stream` call with the next queued script.

    A script is a list of chunks, optionally containing an exception instance or `Interrupt()`
    at the point where the stream should fail. With nothing queued it answers with an echo of
    the last user message, so feedback is visible in the next answer.
    """

    def __init__(self, *scripts: list, name: str = "fake", model: str = "fake-1", finish_reason: str = "stop") -> None:
        self.name = name
        self.finish_reason = finish_reason
        self.model = model
        self.scripts = list(scripts)
        self.calls: list[list[Message]] = []
        self.options: list[GenerationOptions] = []
        self.closed = 0
        self._usage: Usage | None = None

    @property
    def last_usage(self) -> Usage | None:
        return self._usage

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.calls.append([dict(m) for m in messages])
        self.options.append(options)
        script = self.scripts.pop(0) if self.scripts else [f"Echo: {messages[-1]['content']}"]
        clock = iter(float(i) for i in range(1000))
        meter = UsageMeter(self.name, self.model, clock=lambda: next(clock))
        meter.start()
        count = 0
        try:
            for step in script:
                if isinstance(step, Interrupt):
                    raise KeyboardInterrupt
                if isinstance(step, BaseException):
                    raise step
                meter.chunk()
                count += 1
                yield step
        except GeneratorExit:
            self.closed += 1
            raise
        finally:
            self._usage = meter.finish(prompt_tokens=7, completion_tokens=count, finish_reason=self.finish_reason)
