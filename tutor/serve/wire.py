"""OpenAI's Chat Completions wire format: response bodies, stream chunks, SSE frames, errors.

Only plain dicts and bytes here, no web framework, so the shapes can be read (and tested) on
their own. A stream looks like this, one `data:` frame per line pair:

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant", "content": ""}}]}
    data: {... "choices": [{"delta": {"content": "Hel"}}]}
    data: {... "choices": [{"delta": {}, "finish_reason": "stop"}]}
    data: {... "choices": [], "usage": {...}}        only with stream_options.include_usage
    data: [DONE]

An error after the stream has started is sent as `data: {"error": {...}}` and ends the stream;
the official SDKs raise it as an `APIError`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

DONE_FRAME = b"data: [DONE]\n\n"
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # a reverse proxy must not buffer the stream
}


class APIError(Exception):
    """An error answered in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

    Args:
        status: the HTTP status (400, 401, 404, 413, 503...).
        message: one line saying what is wrong and how to fix it.
        type: OpenAI's error type, e.g. "invalid_request_error" or "server_error".
        param: the request field at fault, if any.
        code: a machine-readable code, e.g. "invalid_api_key" or "model_not_found".
        headers: extra response headers, e.g. {"retry-after": "2"}.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass
class Completion:
    """The fields every chunk of one answer shares, and builders for its bodies."""

    model: str
    created: int
    id: str = field(default_factory=lambda: "chatcmpl-" + secrets.token_hex(12))
    include_usage: bool = False  # stream_options.include_usage: every chunk carries "usage"

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            body["usage"] = None
        return body

    def role_chunk(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": ""})

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk({"content": text})

    def finish_chunk(self, finish_reason: str) -> dict[str, Any]:
        return self.chunk({}, finish_reason)

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        body = self.chunk({})
        body["choices"] = []
        body["usage"] = usage_body(prompt_tokens, completion_tokens)
        return body

    def message(self, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        """The whole answer as one `chat.completion` (a request without `stream`)."""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage_body(prompt_tokens, completion_tokens),
        }


def frame(body: dict[str, Any]) -> bytes:
    """One SSE event. Compact JSON never contains a newline, so one `data:` line suffices."""
    return b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def model_card(model: str, created: int) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": "tutor"}
