"""Why a connection failed, read from the exception types the SDK keeps as causes, not from their text."""

from __future__ import annotations

import socket
import ssl

import pytest

from tutor.backends.openai_errors import OpenAIErrors, connection_reason

KEY = "sk-test-0123456789abcdef"


def raised_from(*chain: BaseException) -> BaseException:
    """The first exception, raised from the second, raised from the third ... as the SDK chains them."""
    for outer, inner in zip(chain, chain[1:]):
        outer.__cause__ = inner
    return chain[0]


def sdk_connection_error(cause: BaseException) -> BaseException:
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://example.test/v1/chat/completions")
    return raised_from(openai.APIConnectionError(request=request), httpx2.ConnectError(str(cause)), cause)


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (socket.gaierror(-3, "Temporary failure in name resolution"), "host not found"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS/certificate error"),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "TLS/certificate error"),
        (ConnectionResetError(104, "Connection reset by peer"), "closed by the server"),
        (OSError("peer closed connection without sending complete message body (incomplete chunked read)"),
         "closed by the server"),
    ],
)
def test_the_reason_comes_from_the_innermost_cause(cause, reason):
    assert connection_reason(sdk_connection_error(cause)) == reason


def test_an_unknown_cause_is_told_in_its_own_words_on_one_line():
    error = sdk_connection_error(OSError("no route\n  to   host."))

    assert connection_reason(error) == "no route to host"


def test_a_message_that_only_mentions_a_refusal_is_not_a_refused_connection():
    """Only a ConnectionRefusedError is one; matching the word would misname this proxy's answer."""
    error = sdk_connection_error(OSError("proxy refused the tunnel"))

    assert connection_reason(error) == "proxy refused the tunnel"


def test_messages_never_show_the_key():
    errors = OpenAIErrors(api_key=KEY, where=" at example.test", model="m", timeout=5)

    failed = errors.client_failed(ValueError(f"bad header Bearer {KEY} and sk-ab***wxyz"), "example.test")

    assert KEY not in str(failed) and "sk-ab***" not in str(failed)
    assert str(failed).startswith("Cannot set up the OpenAI client for example.test: bad header Bearer ***")
