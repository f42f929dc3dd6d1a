"""`tutor serve` refuses bad requests in OpenAI's error shape, before any answer starts."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fakes import ScriptBackend, gated_backend, running_server  # noqa: E402

from tutor.serve.app import create_app  # noqa: E402

HI = [{"role": "user", "content": "hi"}]
KEY = "sk-serve-test-key"


def sdk(server, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def raw(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def server():
    with running_server(create_app(ScriptBackend())) as running:
        yield running


# --- auth ---------------------------------------------------------------------------------------


@pytest.fixture
def locked():
    with running_server(create_app(ScriptBackend(), api_key=KEY)) as running:
        yield running


def test_the_right_key_is_accepted(locked):
    reply = sdk(locked, KEY).chat.completions.create(model="tutor-test", messages=HI)
    assert reply.choices[0].message.content == "Hello, world!"


@pytest.mark.parametrize("key", ["sk-wrong", KEY + "x", KEY[:-1]])
def test_a_wrong_key_is_refused(locked, key):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(locked, key).chat.completions.create(model="tutor-test", messages=HI)
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert key not in caught.value.message


def test_every_endpoint_but_health_needs_the_key(locked):
    for method, path in [("GET", "/v1/models"), ("GET", "/v1/models/x"), ("POST", "/v1/chat/completions")]:
        status, body = raw(locked, method, path, b"{}")
        assert status == 401, path
        assert set(body["error"]) == {"message", "type", "param", "code"}
    status, body = raw(locked, "GET", "/health")  # open, as vLLM's and llama.cpp's, for load balancers
    assert status == 200 and body["status"] == "ok"


def test_a_missing_key_says_how_to_send_one(locked):
    status, body = raw(locked, "GET", "/v1/models")
    assert status == 401
    assert "Authorization: Bearer" in body["error"]["message"]


# --- bad requests -------------------------------------------------------------------------------


def test_any_model_name_is_answered_by_the_one_model_and_named_truly(server):
    reply = sdk(server).chat.completions.create(model="gpt-4o-mini", messages=HI)  # a client's default
    assert reply.model == "tutor-test"
    assert reply.choices[0].message.content


def test_deeply_nested_json_is_a_400(server):
    status, body = raw(server, "POST", "/v1/chat/completions", b"[" * 100_000 + b"]" * 100_000)
    assert status == 400
    assert "nested too deeply" in body["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"n": 2}, "n"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_bad_fields_are_400_naming_the_field(server, fields, param):
    request = {"model": "tutor-test", "messages": HI, **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(server).chat.completions.create(**request)
    assert caught.value.body["param"] == param
    assert caught.value.body["type"] == "invalid_request_error"


def test_unknown_fields_are_400(server):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(server).chat.completions.create(model="tutor-test", messages=HI, extra_body={"temprature": 0.5})
    assert "temprature" in caught.value.message


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_a_body_that_is_not_a_json_object_is_400(server, body):
    status, reply = raw(server, "POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    assert status == 400
    assert set(reply["error"]) == {"message", "type", "param", "code"}


def test_an_oversized_body_is_413(server):
    huge = [{"role": "user", "content": "x" * (1024 * 1024 + 1)}]
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(server).chat.completions.create(model="tutor-test", messages=huge)
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "request_too_large"


def test_an_oversized_body_is_refused_by_its_declared_length(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/v1/chat/completions")
    conn.putheader("content-length", str(50 * 1024 * 1024))
    conn.endheaders()  # no body sent: the answer must come from the header alone
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_unknown_paths_and_methods_answer_in_openai_shape(server):
    status, body = raw(server, "POST", "/chat/completions", b"{}")
    assert status == 404 and "/v1" in body["error"]["message"]
    status, body = raw(server, "GET", "/v1/chat/completions")
    assert status == 405 and body["error"]["type"] == "invalid_request_error"


def test_a_model_failure_before_any_text_is_a_500():
    from tutor.errors import BackendError

    class Broken(ScriptBackend):
        def stream(self, messages, options):
            raise BackendError("The conversation is too long for the local model")

    with running_server(create_app(Broken())) as server:
        with pytest.raises(openai.InternalServerError) as caught:
            sdk(server).chat.completions.create(model="tutor-test", messages=HI, stream=True)
        assert "too long" in caught.value.message
        assert sdk(server).models.list().data  # the worker survived


# --- a full queue -------------------------------------------------------------------------------


def test_a_full_queue_answers_503_with_retry_after():
    backend = gated_backend(["a", "b"])
    with running_server(create_app(backend, max_queued=1)) as server:
        worker = server.worker
        client = sdk(server)
        backend.gate.release()  # the first token of the running request
        running = client.chat.completions.create(model="tutor-test", messages=HI, stream=True)
        assert next(iter(running)).choices[0].delta.role == "assistant"

        waited: list = []
        waiter = threading.Thread(
            target=lambda: waited.append(client.chat.completions.create(model="tutor-test", messages=HI)), daemon=True
        )
        waiter.start()
        assert worker.wait_until(lambda: worker.queued == 1, timeout=10)

        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="tutor-test", messages=HI, stream=True)
        assert caught.value.status_code == 503
        assert int(caught.value.response.headers["retry-after"]) >= 1
        assert caught.value.body["code"] == "server_overloaded"
        status, health = raw(server, "GET", "/health")  # the event loop answers while the model works
        assert (status, health["busy"], health["queued"]) == (200, True, 1)

        backend.gate.release(3)  # "b" for the running request, then "a", "b" for the waiting one
        assert "".join(c.choices[0].delta.content or "" for c in running if c.choices) == "ab"
        waiter.join(10)
        assert waited[0].choices[0].message.content == "ab"  # accepted means answered
        assert len(backend.calls) == 2  # the refused request never reached the model


class _TooLong:
    """A backend whose model never has room for the conversation."""

    name, model, last_usage = "local", "tiny", None

    def stream(self, messages, options):
        from tutor.errors import ContextOverflow

        raise ContextOverflow("The request needs 9000 tokens but the model's context holds 8192.")
        yield  # pragma: no cover - makes this a generator


def test_a_context_overflow_is_a_400_with_openais_code():
    with running_server(create_app(_TooLong())) as running:
        status, body = raw(running, "POST", "/v1/chat/completions",
                           json.dumps({"model": "x", "messages": HI}).encode())
    assert status == 400
    assert body["error"]["code"] == "context_length_exceeded"
    assert "holds 8192" in body["error"]["message"]
