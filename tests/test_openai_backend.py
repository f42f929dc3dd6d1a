"""The OpenAI backend against the real SDK and a loopback server: no network, no real waits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from openai_server import OpenAIServer, Reply, openai_server  # noqa: F401 - fixture until conftest has it

from tutor.backends.openai import OpenAIBackend
from tutor.options import GenerationOptions
from tutor.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailable,
    ConfigError,
    RateLimitError,
    StreamBroken,
)

KEY = "sk-test-SECRET-4f9a2c7e1b"  # recognisable, so a leak is easy to spot
MESSAGES = [
    {"role": "system", "content": "You are a patient tutor."},
    {"role": "user", "content": "Explain recursion"},
]
DEFAULTS = GenerationOptions()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_backend(openai_server: OpenAIServer, sleeps: list[float]):  # noqa: F811
    def make(**overrides) -> OpenAIBackend:
        kwargs = dict(model="gpt-test", api_key=KEY, base_url=openai_server.base_url, sleep=sleeps.append)
        kwargs.update(overrides)
        return OpenAIBackend(**kwargs)

    return make


def fail(backend: OpenAIBackend, chunks: list[str] | None = None) -> BackendError:
    """Run a stream that must fail; collect what it yielded before failing into `chunks`."""
    with pytest.raises(BackendError) as info:
        for text in backend.stream(MESSAGES, DEFAULTS):
            if chunks is not None:
                chunks.append(text)
    message = str(info.value)
    assert KEY not in message and "SECRET" not in message
    assert "\n" not in message
    return info.value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a normal answer ---------------------------------------------------------------------------


def test_streams_chunks_and_records_usage(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo", ", world"], finish_reason="stop", usage=(10, 3)))
    backend = make_backend()

    chunks = list(backend.stream(MESSAGES, DEFAULTS))

    assert chunks == ["Hel", "lo", ", world"]  # the empty role chunk is skipped
    usage = backend.last_usage
    assert (usage.backend, usage.model) == ("openai", "gpt-test")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.finish_reason) == (10, 3, "stop")
    assert usage.time_to_first_token is not None and usage.total_time >= usage.time_to_first_token

    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "gpt-test"
    assert request.body["messages"] == MESSAGES
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert not {"temperature", "max_tokens", "top_p", "seed"} & request.body.keys()


def test_passes_openai_sampling_options_only(openai_server, make_backend):  # noqa: F811
    options = GenerationOptions(temperature=0.3, max_tokens=50, top_p=0.9, seed=7, top_k=5, repetition_penalty=1.2)

    list(make_backend().stream(MESSAGES, options))

    body = openai_server.requests[0].body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (0.3, 50, 0.9, 7)
    assert "top_k" not in body and "repetition_penalty" not in body


def test_length_finish_reason_is_reported_not_raised(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["cut"], finish_reason="length"))
    backend = make_backend()

    assert list(backend.stream(MESSAGES, DEFAULTS)) == ["cut"]
    assert backend.last_usage.finish_reason == "length"


def test_default_reply_echoes_the_last_user_message(openai_server, make_backend):  # noqa: F811
    text = "".join(make_backend().stream(MESSAGES, DEFAULTS))

    assert text == "# Answer\n\nYou asked: Explain recursion\n"


def test_importing_the_backend_does_not_import_openai():
    code = "import sys, tutor.backends.openai; assert 'openai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_key_is_a_config_error(make_backend):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        list(make_backend(api_key="").stream(MESSAGES, DEFAULTS))


# --- errors before the first chunk -------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_is_an_authentication_error(openai_server, make_backend, sleeps, status):  # noqa: F811
    openai_server.enqueue(Reply.error(status))

    error = fail(make_backend())

    assert isinstance(error, AuthenticationError)
    assert f"({status})" in str(error) and openai_server.base_url.split("/")[2] in str(error)
    assert len(openai_server.requests) == 1 and sleeps == []  # not retried


def test_401_message_names_the_env_var():
    error = OpenAIBackend(model="m", api_key=KEY).errors.status_error(_FakeStatus(401), 0)

    # No host in the message for api.openai.com itself.
    assert str(error).startswith("OpenAI rejected the API key (401). Check OPENAI_API_KEY")


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"retry-after-ms": "1"}, 0.001),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "5", "retry-after": "9"}, 0.005),  # the more precise header wins
    ],
)
def test_429_waits_what_the_server_asks_then_succeeds(
    openai_server, make_backend, sleeps, headers, waited  # noqa: F811
):
    openai_server.enqueue(Reply.error(429, headers=headers), Reply.stream(["ok"]))

    assert list(make_backend().stream(MESSAGES, DEFAULTS)) == ["ok"]
    assert sleeps == [pytest.approx(waited)]
    assert len(openai_server.requests) == 2


def test_429_after_every_retry_is_a_rate_limit_error(openai_server, make_backend, sleeps):  # noqa: F811
    openai_server.enqueue(*[Reply.error(429, headers={"retry-after-ms": "1"}) for _ in range(3)])

    error = fail(make_backend(max_retries=2))

    assert isinstance(error, RateLimitError)
    assert "(429)" in str(error) and "retrying 2 times" in str(error)
    assert len(openai_server.requests) == 3 and len(sleeps) == 2


def test_429_out_of_quota_is_not_retried(openai_server, make_backend, sleeps):  # noqa: F811
    error_body = {"message": "You exceeded your quota.", "type": "insufficient_quota", "code": "insufficient_quota"}
    openai_server.enqueue(Reply.error(429, {"error": error_body}))

    error = fail(make_backend())

    assert isinstance(error, RateLimitError) and "quota" in str(error)
    assert sleeps == []


def test_429_asking_for_a_long_wait_is_not_retried(openai_server, make_backend, sleeps):  # noqa: F811
    openai_server.enqueue(Reply.error(429, headers={"retry-after": "3600"}))

    error = fail(make_backend())

    assert isinstance(error, RateLimitError) and "3600s" in str(error)
    assert sleeps == []


def test_5xx_is_retried_with_backoff_then_unavailable(openai_server, make_backend, sleeps):  # noqa: F811
    openai_server.enqueue(*[Reply.error(503) for _ in range(3)])

    error = fail(make_backend(max_retries=2))

    assert isinstance(error, BackendUnavailable) and error.partial == ""
    assert "HTTP 503" in str(error) and "tried 3 times" in str(error) and "Scripted error 503" in str(error)
    assert sleeps == [0.5, 1.0]


def test_5xx_then_success(openai_server, make_backend, sleeps):  # noqa: F811
    openai_server.enqueue(Reply.error(500), Reply.stream(["fine"]))

    assert list(make_backend().stream(MESSAGES, DEFAULTS)) == ["fine"]
    assert sleeps == [0.5]


def test_connection_refused_is_unavailable(make_backend, sleeps):
    port = free_port()

    error = fail(make_backend(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1))

    assert isinstance(error, BackendUnavailable)
    assert "connection refused" in str(error) and f"127.0.0.1:{port}" in str(error)
    assert sleeps == [0.5]


def test_other_status_is_a_backend_error_with_the_servers_message(openai_server, make_backend, sleeps):  # noqa: F811
    body = {"error": {"message": "Unsupported value: 'temperature'", "type": "invalid_request_error"}}
    openai_server.enqueue(Reply.error(400, body))

    error = fail(make_backend())

    assert type(error) is BackendError
    assert "HTTP 400" in str(error) and "Unsupported value: 'temperature'" in str(error)
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_the_key_never_appears_in_an_error(openai_server, make_backend, status):  # noqa: F811
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. Also sk-proj-ab12****wxyz.", "type": "x"}}
    openai_server.enqueue(*[Reply.error(status, body) for _ in range(3)])

    error = fail(make_backend())  # `fail` asserts the key is absent and the message is one line

    assert "sk-proj-ab12" not in str(error)
    assert "wxyz" not in str(error)


# --- errors while streaming ---------------------------------------------------------------------


def test_dropped_connection_mid_stream_keeps_the_partial_text(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo", " there"], drop_after=2))
    backend, chunks = make_backend(), []

    error = fail(backend, chunks)

    assert isinstance(error, StreamBroken)
    assert error.partial == "Hello" and chunks == ["Hel", "lo"]
    assert "cut off" in str(error)
    assert backend.last_usage.finish_reason is None


def test_dropped_connection_before_any_text_is_unavailable(openai_server, make_backend, sleeps):  # noqa: F811
    openai_server.enqueue(Reply.stream(["never"], drop_after=0))

    error = fail(make_backend())

    assert isinstance(error, BackendUnavailable) and error.partial == ""
    assert sleeps == []  # a stream that started is never retried here


def test_malformed_frame_is_a_broken_stream(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo"], malformed_after=1))

    error = fail(make_backend())

    assert isinstance(error, StreamBroken) and error.partial == "Hel"
    assert "not valid JSON" in str(error)


@pytest.mark.parametrize(("after", "kind"), [(1, StreamBroken), (0, BackendError)])
def test_error_event_in_the_stream(openai_server, make_backend, after, kind):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo"], error_after=after))

    error = fail(make_backend())

    assert type(error) is kind and error.partial == "Hel"[: 3 * after]
    assert "The server had an error mid-stream" in str(error)


def test_stream_without_finish_reason_is_broken(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo"], no_finish=True, usage=(4, 2)))
    backend = make_backend()

    error = fail(backend)

    assert isinstance(error, StreamBroken) and error.partial == "Hello"
    assert "finish_reason" in str(error)
    assert backend.last_usage.completion_tokens == 2


def test_stall_longer_than_the_timeout_is_a_broken_stream(openai_server, make_backend):  # noqa: F811
    openai_server.enqueue(Reply.stream(["Hel", "lo"], stall_after=1))

    error = fail(make_backend(timeout=0.5, max_retries=0))

    assert isinstance(error, StreamBroken) and error.partial == "Hel"


# --- closing early ----------------------------------------------------------------------------


def test_closing_the_generator_closes_the_http_stream(openai_server, make_backend):  # noqa: F811
    reply = Reply.stream(["Hel", "lo"], stall_after=1)
    openai_server.enqueue(reply)
    backend = make_backend()

    stream = backend.stream(MESSAGES, DEFAULTS)
    assert next(stream) == "Hel"
    stream.close()  # what a Ctrl-C in the caller does

    assert backend.last_usage is not None and backend.last_usage.finish_reason is None
    assert reply.disconnected.wait(10)  # the server saw the connection go away


def test_a_new_stream_forgets_the_previous_usage(openai_server, make_backend):  # noqa: F811
    backend = make_backend()
    list(backend.stream(MESSAGES, DEFAULTS))
    assert backend.last_usage is not None

    backend.stream(MESSAGES, DEFAULTS).close()  # never started

    assert backend.last_usage is None


class _FakeStatus:
    """Just enough of an `openai.APIStatusError` for `status_error`."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.body = {"message": "nope"}
        self.message = "nope"


def test_server_notices_a_killed_client(openai_server):  # noqa: F811
    """The stall hook other tests rely on: a client in another process, killed mid-answer."""
    reply = Reply.stream(["Hel", "lo"], stall_after=1)
    openai_server.enqueue(reply)
    code = (
        "import os, sys\n"
        "from tutor.backends.openai import OpenAIBackend\n"
        "from tutor.options import GenerationOptions\n"
        "b = OpenAIBackend(model='m', api_key='k', base_url=os.environ['OPENAI_BASE_URL'])\n"
        "for text in b.stream([{'role': 'user', 'content': 'hi'}], GenerationOptions()):\n"
        "    print(text, flush=True)\n"
    )
    env = {**os.environ, "OPENAI_BASE_URL": openai_server.base_url}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "Hel\n"
        assert reply.stalled.wait(10)
        child.kill()
        assert reply.disconnected.wait(10)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_server_stall_can_be_released(openai_server, make_backend):  # noqa: F811
    reply = Reply.stream(["Hel", "lo"], stall_after=1)
    openai_server.enqueue(reply)
    stream = make_backend().stream(MESSAGES, DEFAULTS)

    assert next(stream) == "Hel"
    # The server sets `stalled` just after sending "Hel", so the client can see the chunk first.
    assert reply.stalled.wait(10)
    reply.release.set()
    assert list(stream) == ["lo"]


def test_server_answers_plain_requests_and_lists_models(openai_server):  # noqa: F811
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=openai_server.base_url, max_retries=0)
    openai_server.enqueue(Reply.stream(["Hel", "lo"], usage=(3, 2)))
    try:
        answer = client.chat.completions.create(model="tutor-test", messages=MESSAGES)
        models = [m.id for m in client.models.list()]
    finally:
        client.close()

    assert answer.choices[0].message.content == "Hello" and answer.usage.completion_tokens == 2
    assert "tutor-test" in models
    assert [r.method for r in openai_server.requests] == ["POST", "GET"]
