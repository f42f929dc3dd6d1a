"""What went wrong with an OpenAI-compatible server, as a `tutor.errors` class.

Each message is one line, names the server (unless it is api.openai.com) and says how to fix
the problem; the API key never appears in one, nor does any key the server echoes back.
`OpenAIBackend` decides when something failed; this module only says what it means.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

from tutor.errors import AuthenticationError, BackendError, BackendUnavailable, ConfigError, RateLimitError, StreamBroken

MAX_RETRY_AFTER_S = 60.0  # a server asking for a longer wait gets an error, not a frozen terminal
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{4,}")  # OpenAI echoes keys masked as sk-ab***wxyz
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# h11's words for a body that ended early; its RemoteProtocolError also covers malformed replies.
_CUT_SHORT = ("incomplete chunked read", "peer closed")


class OpenAIErrors:
    """Turns what the SDK raises into TutorErrors for one backend.

    Args:
        api_key: replaced by `***` wherever it would appear.
        where: `" at HOST:PORT"`, or `""` for api.openai.com.
        model: named when the model may be the problem (403, 404).
        timeout: the backend's timeout in seconds, named when it ran out.
    """

    def __init__(self, *, api_key: str, where: str, model: str, timeout: float) -> None:
        self._api_key = api_key
        self.where = where
        self.model = model
        self.timeout = timeout

    def client_failed(self, exc: Exception, host: str) -> ConfigError:
        """The SDK refused to build a client (e.g. a base URL it cannot use)."""
        return ConfigError(f"Cannot set up the OpenAI client for {host}: {self.redact(one_line(str(exc)))}.")

    def failed(self, exc: Exception, attempt: int) -> BackendError:
        """Map a failure to start the answer (nothing yielded yet) to a TutorError."""
        import openai

        where = self.where
        tries = f"tried {attempt + 1} time{'s' if attempt else ''}"
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailable(
                f"OpenAI{where} did not answer within {self.timeout:g}s. Check your network and try again."
            )
        if isinstance(exc, openai.APIConnectionError):
            return BackendUnavailable(
                f"Cannot connect to OpenAI{where} ({self.redact(connection_reason(exc))}; {tries}). "
                "Check your network and the base URL (OPENAI_BASE_URL)."
            )
        if isinstance(exc, openai.APIStatusError):
            return self.status_error(exc, attempt)
        if isinstance(exc, openai.APIError):
            return BackendError(f"OpenAI{where} failed: {self.server_message(exc) or type(exc).__name__}.")
        detail = self.redact(one_line(str(exc))) or "no details"
        return BackendError(f"The OpenAI client failed ({type(exc).__name__}: {detail}).")

    def status_error(self, exc: Any, attempt: int) -> BackendError:
        status, where, message = exc.status_code, self.where, self.server_message(exc)
        detail = f": {message}" if message else ""
        if status == 401:
            return AuthenticationError(
                f"OpenAI{where} rejected the API key (401). "
                "Check OPENAI_API_KEY (environment or .env) and that the key is still active."
            )
        if status == 403:
            return AuthenticationError(
                f"OpenAI{where} refused the request (403){detail}. "
                f"Check that the API key's project may use model {self.model!r}."
            )
        if status == 429:
            if error_code(exc) == "insufficient_quota":
                return RateLimitError(
                    f"OpenAI{where} says the account is out of quota (429){detail}. "
                    "Add credit or check billing in the OpenAI dashboard."
                )
            asked = retry_after(exc.response.headers)
            if asked is not None and asked > MAX_RETRY_AFTER_S:
                return RateLimitError(
                    f"OpenAI{where} is rate-limiting requests (429) and asks to wait {asked:.0f}s{detail}. "
                    "Try again later."
                )
            retried = f"after retrying {attempt} time{'s' if attempt != 1 else ''}" if attempt else "(retries are off)"
            return RateLimitError(
                f"OpenAI{where} is still rate-limiting requests (429) {retried}{detail}. "
                "Wait a minute and try again, or check your plan's rate limits."
            )
        if status >= 500 or status == 408:
            tries = f"tried {attempt + 1} time{'s' if attempt else ''}"
            return BackendUnavailable(f"OpenAI{where} failed with HTTP {status} ({tries}){detail}. Try again later.")
        if status == 404:
            return BackendError(
                f"OpenAI{where} answered HTTP 404{detail}. Check the model name ({self.model!r}) and the base URL."
            )
        return BackendError(f"OpenAI{where} answered HTTP {status}{detail}.")

    def broken(self, exc: Exception | None, partial: str) -> BackendError:
        """Map a failure while reading the stream. StreamBroken only when text already went out."""
        import openai

        if exc is None:
            reason = "the stream ended without a finish_reason"
        elif isinstance(exc, openai.APITimeoutError):
            reason = f"nothing arrived for {self.timeout:g}s"
        elif isinstance(exc, openai.APIConnectionError):
            reason = f"the connection dropped ({self.redact(connection_reason(exc))})"
        elif isinstance(exc, json.JSONDecodeError):  # raised by the SDK's SSE decoding
            reason = "the server sent a frame that is not valid JSON"
        elif isinstance(exc, openai.APIError):
            message = self.server_message(exc)
            if not partial:  # an error event instead of an answer: the server's own words
                return BackendError(f"OpenAI{self.where} sent an error instead of an answer: {message}.")
            reason = f"the server sent an error: {message}"
        else:
            reason = f"{type(exc).__name__}: {self.redact(one_line(str(exc)))}"
        if partial:
            return StreamBroken(
                f"The answer from OpenAI{self.where} was cut off: {reason}. Ask again for a complete answer.",
                partial=partial,
            )
        return BackendUnavailable(f"OpenAI{self.where} failed before sending any text: {reason}. Try again.")

    def server_message(self, exc: Any) -> str:
        body = getattr(exc, "body", None)
        message = body.get("message") if isinstance(body, dict) else body
        if not isinstance(message, str) or not message.strip():
            message = getattr(exc, "message", "") or ""
        return encodable(self.redact(one_line(message)))

    def redact(self, text: str) -> str:
        if len(self._api_key) >= 6:  # a shorter "key" is a placeholder; replacing it would garble text
            text = text.replace(self._api_key, "***")
        return _KEY_LIKE.sub("sk-***", text)


def encodable(text: str) -> str:
    """`text` with lone surrogates (JSON can carry "\\ud800") replaced by U+FFFD: no encoder can
    write them, so one would stop the answer from being stored or sent back with the next
    request."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            pass
    value = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(value) if value else None
    return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


def error_code(exc: Any) -> str | None:
    """The `code` (else `type`) of an error body, which the SDK reads into attributes."""
    return getattr(exc, "code", None) or getattr(exc, "type", None)


def connection_reason(exc: BaseException) -> str:
    """A few words on why a connection failed, from the exceptions it was raised from: the SDK
    keeps the socket's own (ConnectionRefusedError, socket.gaierror, ssl.SSLError ...) as causes."""
    import socket
    import ssl  # here, not at the top: the SDK imports it anyway, once a request is made

    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__

    def raised(kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
        return any(isinstance(e, kind) for e in seen)

    if raised(ConnectionRefusedError):
        return "connection refused"
    if raised(socket.gaierror):
        return "host not found"
    if raised(ssl.SSLError):  # a failed certificate check too (SSLCertVerificationError)
        return "TLS/certificate error"
    if raised(ConnectionResetError) or any(words in str(e) for e in seen for words in _CUT_SHORT):
        return "closed by the server"
    inner = seen[-1]
    return one_line(str(inner)) or type(inner).__name__


def one_line(text: str, limit: int = 200) -> str:
    """`text` on one line, without a final full stop, cut to `limit` characters."""
    text = " ".join(text.split()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"
