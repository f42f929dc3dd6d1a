"""The OpenAI backend: streams a chat completion through the official SDK.

Every SDK, httpx2 or decoding failure is mapped (by `openai_errors`) to a `tutor.errors` class
with a one-line message that never contains the API key. One rule matters to layers above
(fallback, retry):

* `StreamBroken` is raised only after at least one chunk has been yielded; `partial` holds it.
* Every other `BackendError` is raised before anything was yielded (`partial == ""`), so the
  caller may safely try another backend without the learner seeing a half answer twice.

Retries happen here, not in the SDK (the client is built with `max_retries=0`): 408, 409, 429,
5xx and failed connections are retried before the first chunk, waiting what `retry-after-ms` or
`retry-after` ask for, else 0.5s, 1s, 2s... through the injected `sleep`. A timeout is not
retried: the learner has already waited `timeout` seconds once.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit

from tutor.backends.base import UsageMeter
from tutor.backends.openai_errors import MAX_RETRY_AFTER_S, OpenAIErrors, encodable, error_code, retry_after
from tutor.options import GenerationOptions, Message, Usage

if TYPE_CHECKING:
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BACKOFF_START_S = 0.5  # without a retry-after header: 0.5s, 1s, 2s ... capped below
BACKOFF_MAX_S = 8.0


class OpenAIBackend:
    """Chat completions from OpenAI or any server that speaks its API.

    Args:
        model: the model name sent with every request.
        api_key: sent as a bearer token; never appears in an error message.
        base_url: an OpenAI-compatible endpoint ending in `/v1`; None means api.openai.com.
        timeout: seconds to connect, and to wait for each next piece of the stream.
        max_retries: extra attempts before the first chunk (see the module docstring).
        sleep: how to wait between retries; tests pass a fake.
    """

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.base_url = base_url or DEFAULT_BASE_URL
        self.timeout = timeout
        self.max_retries = max_retries
        self._api_key = api_key
        self._sleep = sleep
        self._client: openai.OpenAI | None = None
        self._last_usage: Usage | None = None
        self._no_response_format = False  # set once the server refused a JSON response_format
        parts = urlsplit(self.base_url)
        host = parts.hostname or self.base_url
        self.host = f"{host}:{parts.port}" if parts.port else host  # no userinfo, ever
        self.errors = OpenAIErrors(
            api_key=api_key, where="" if host == "api.openai.com" else f" at {self.host}", model=model, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    def close(self) -> None:
        """Release the HTTP connection pool. The backend can still be used afterwards."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Yield the answer's text as it arrives; `last_usage` is set when the iterator ends.

        Raises:
            BackendError: see the module docstring for which subclass means what.
        """
        self._last_usage = None
        return self._generate(list(messages), options)

    # --- the stream ------------------------------------------------------------------------

    def _generate(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        self._get_client()  # importing openai takes ~1 s: keep it out of time-to-first-token
        meter = UsageMeter(backend=self.name, model=self.model)
        meter.start()
        parts: list[str] = []
        tokens: dict[str, int | None] = {"prompt_tokens": None, "completion_tokens": None}
        finish_reason: str | None = None
        sdk_stream = None
        try:
            sdk_stream = self._open(messages, options)
            chunks = iter(sdk_stream)
            while True:
                try:
                    text, finish, usage = _parse(next(chunks))
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - every failure must become a TutorError
                    if finish_reason is not None:
                        break  # the answer is complete; only the usage frame or [DONE] was lost
                    raise self.errors.broken(exc, "".join(parts)) from exc
                finish_reason = finish or finish_reason
                if usage is not None:
                    tokens["prompt_tokens"], tokens["completion_tokens"] = usage
                if text:
                    meter.chunk()
                    parts.append(text)
                    yield text  # outside every `try`: GeneratorExit goes straight to `finally`
            if finish_reason is None:
                raise self.errors.broken(None, "".join(parts))
        finally:
            if sdk_stream is not None:
                try:
                    sdk_stream.close()
                except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
                    pass
            self._last_usage = meter.finish(finish_reason=finish_reason, **tokens)

    def _open(self, messages: list[Message], options: GenerationOptions) -> Any:
        """Start the request, retrying what is worth retrying; returns the SDK's stream."""
        import openai

        client = self._get_client()
        params = _sampling_params(options)
        if self._no_response_format:
            params.pop("response_format", None)
        for attempt in range(self.max_retries + 1):
            try:
                return client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": m["role"], "content": m["content"]} for m in messages],
                    stream=True,
                    stream_options={"include_usage": True},
                    **params,
                )
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                if "response_format" in params and _refuses_response_format(exc):
                    # A server without structured output (tutor serve, older Ollama): ask in
                    # plain text from now on; the caller validates the JSON it gets back.
                    self._no_response_format = True
                    params.pop("response_format")
                    return self._open(messages, options)
                delay = self._retry_delay(exc, attempt)
                if delay is None or attempt == self.max_retries:
                    raise self.errors.failed(exc, attempt) from exc
                self._sleep(delay)
            except Exception as exc:  # noqa: BLE001 - every failure must become a TutorError
                raise self.errors.failed(exc, attempt) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get_client(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            try:
                self._client = openai.OpenAI(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    timeout=self.timeout,
                    max_retries=0,  # we retry ourselves, through the injectable `sleep`
                )
            except Exception as exc:  # noqa: BLE001 - e.g. a base URL the SDK refuses, or no key
                raise self.errors.client_failed(exc, self.host) from exc
        return self._client

    # --- retries ---------------------------------------------------------------------------

    def _retry_delay(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when a retry would not help."""
        import openai

        backoff = min(BACKOFF_START_S * 2**attempt, BACKOFF_MAX_S)
        if isinstance(exc, openai.APITimeoutError):
            return None
        if isinstance(exc, openai.APIConnectionError):
            return backoff
        assert isinstance(exc, openai.APIStatusError)
        headers = exc.response.headers
        should = headers.get("x-should-retry")
        if should == "false" or (exc.status_code == 429 and error_code(exc) == "insufficient_quota"):
            return None
        if should != "true" and exc.status_code not in (408, 409, 429) and exc.status_code < 500:
            return None
        asked = retry_after(headers)
        if asked is None:
            return backoff
        return max(asked, 0.0) if asked <= MAX_RETRY_AFTER_S else None


def _parse(chunk: Any) -> tuple[str | None, str | None, tuple[int | None, int | None] | None]:
    """(text, finish_reason, (prompt, completion) tokens) from one `ChatCompletionChunk`.

    Only the first choice counts (we never ask for n > 1). Every field may be missing: the SDK
    builds chunks without validation, so an odd frame must not raise AttributeError here.
    """
    text = finish = None
    for choice in getattr(chunk, "choices", None) or ():
        if getattr(choice, "index", 0) == 0:
            text = getattr(getattr(choice, "delta", None), "content", None)
            finish = getattr(choice, "finish_reason", None)
    usage = getattr(chunk, "usage", None)
    counts = None if usage is None else (getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
    return encodable(text) if isinstance(text, str) else None, finish, counts


def _sampling_params(options: GenerationOptions) -> dict[str, Any]:
    """The options OpenAI accepts; top_k and repetition_penalty are local-only."""
    params = {
        "temperature": options.temperature,
        "max_tokens": options.max_tokens,
        "top_p": options.top_p,
        "seed": options.seed,
    }
    chosen = {name: value for name, value in params.items() if value is not None}
    if options.json_schema is not None:
        chosen["response_format"] = _response_format(options.json_schema)
    return chosen


def _response_format(schema: dict) -> dict[str, Any]:
    """Structured output: the server must answer with JSON matching `schema` (strict mode
    needs every property required and no extra ones, which our schemas follow)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _refuses_response_format(exc: Exception) -> bool:
    """A 400/422 that names `response_format`: the server cannot constrain its output."""
    status = getattr(exc, "status_code", None)
    return status in (400, 422) and "response_format" in f"{getattr(exc, 'body', '')} {exc}"
