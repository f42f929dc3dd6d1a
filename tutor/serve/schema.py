"""Validate a Chat Completions request body and turn it into what a backend needs.

We follow OpenAI where a client would notice: an unknown top-level field, a wrong type or an
out-of-range value is a 400 naming the field. Fields that only tune things this server does
not do are accepted and ignored when they are harmless (`user`, `metadata`, `store`,
`frequency_penalty`, `presence_penalty`, `logit_bias`, `service_tier`, ...), and refused when
ignoring them would give a different answer than asked for (`n` > 1, `tools`, `logprobs`,
image parts). A JSON `response_format` becomes the options' `json_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tutor.options import GenerationOptions, Message
from tutor.serve.wire import APIError

MAX_STOPS = 4  # OpenAI's limit


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)  # e.g. include_obfuscation

    include_usage: bool = False


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)  # e.g. "name"

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = None

    @field_validator("role")
    @classmethod
    def _text_roles(cls, role: str) -> str:
        if role in ("tool", "function"):
            raise ValueError(f"role '{role}' needs tool calling, which this server does not support")
        return role

    @field_validator("content")
    @classmethod
    def _text_content(cls, content: Any) -> str:
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise ValueError("content must be a string or a list of text parts")
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError('only text parts ({"type": "text", "text": "..."}) are supported')
            texts.append(part["text"])
        return "".join(texts)


class ChatRequest(BaseModel):
    """The request fields we read; anything not listed here is an error, as with OpenAI."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0)
    stop: Any = None
    n: int | None = None
    # Refused unless they ask for nothing:
    logprobs: bool | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    tool_choice: Literal["none", "auto"] | None = None
    response_format: dict[str, Any] | None = None
    # Accepted and ignored:
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, stop: Any) -> list[str]:
        stops = [stop] if isinstance(stop, str) else stop or []
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise ValueError("stop must be a string or a list of strings")
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop strings are allowed, got {len(stops)}")
        if any(not s for s in stops):
            raise ValueError("stop strings must not be empty")
        return stops

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n != 1:
            raise ValueError("this server returns one choice per request; n must be 1")
        return n

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, logprobs: bool | None) -> bool | None:
        if logprobs:
            raise ValueError("this server does not return logprobs")
        return logprobs

    @field_validator("tools", "functions")
    @classmethod
    def _no_tools(cls, tools: list[Any] | None) -> list[Any] | None:
        if tools:
            raise ValueError("this server does not support tool calling")
        return tools

    @field_validator("response_format")
    @classmethod
    def _known_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None or value.get("type") in ("text", "json_object"):
            return value
        if value.get("type") == "json_schema":
            spec = value.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
                raise ValueError('a json_schema response_format needs {"json_schema": {"schema": {...}}}')
            return value
        raise ValueError('only "text", "json_object" and "json_schema" are supported')


@dataclass(frozen=True)
class ParsedChat:
    """A validated request, in the backend's terms."""

    model: str
    messages: list[Message]
    options: GenerationOptions
    stops: tuple[str, ...]
    stream: bool
    include_usage: bool


def parse_chat_request(body: Any) -> ParsedChat:
    """Validate a decoded JSON body.

    Raises:
        APIError: 400 with OpenAI's message shape, naming the field at fault.
    """
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.")
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(exc) from None
    if request.stream_options is not None and not request.stream:
        raise APIError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    temperature, top_p = request.temperature, request.top_p
    if top_p == 0:  # only the single likeliest token is left: that is greedy decoding
        temperature, top_p = 0.0, None
    options = GenerationOptions(
        temperature=temperature,
        top_p=top_p,
        max_tokens=request.max_completion_tokens or request.max_tokens,
        seed=request.seed,
        json_schema=_json_schema(request.response_format),
    )
    messages: list[Message] = [
        {"role": "system" if m.role == "developer" else m.role, "content": m.content}  # type: ignore[typeddict-item]
        for m in request.messages
    ]
    return ParsedChat(
        model=request.model,
        messages=messages,
        options=options,
        stops=tuple(request.stop or ()),  # the validator made it a list
        stream=bool(request.stream),
        include_usage=bool(request.stream and request.stream_options and request.stream_options.include_usage),
    )


def _json_schema(response_format: dict[str, Any] | None) -> dict | None:
    """The schema the answer must match: a GGUF model decodes under its grammar (a model folder
    on transformers cannot, and answers as it would)."""
    if response_format is None or response_format.get("type") == "text":
        return None
    if response_format["type"] == "json_object":
        return {"type": "object"}
    return response_format["json_schema"]["schema"]


def _bad_request(exc: ValidationError) -> APIError:
    error = exc.errors(include_url=False)[0]
    param = _param(error["loc"])
    if error["type"] == "missing":
        return APIError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if error["type"] == "extra_forbidden":
        return APIError(400, f"Unrecognized request argument supplied: {param}", param=param)
    reason = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    plain = isinstance(got, (dict, list)) or got is None or error["type"] == "value_error"
    shown = "" if plain else f", got {got!r}"
    return APIError(400, f"Invalid '{param}': {reason}{shown}.", param=param, code="invalid_value")


def _param(loc: tuple[int | str, ...]) -> str:
    """('messages', 0, 'role') -> 'messages[0].role'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
