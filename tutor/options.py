"""The shared vocabulary: chat messages, sampling options and what an answer cost.

Everything that talks to a model (backends, the lesson loop, quizzes, history, `tutor serve`)
speaks in these types. This module imports nothing of ours but `errors`, so it can never be
part of an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

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
        json_schema: when set, the answer must be one JSON value matching this schema
            (OpenAI: `response_format`; llama.cpp: a grammar; other backends may ignore it,
            so callers still validate what comes back).
    """

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    json_schema: dict | None = None

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
