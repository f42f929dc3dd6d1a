"""`tutor serve` speaks OpenAI's Chat Completions wire format: the official SDK and raw frames."""

from __future__ import annotations

import http.client
import json

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fakes import ScriptBackend, running_server  # noqa: E402

from tutor.serve.app import create_app  # noqa: E402

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def backend():
    return ScriptBackend(["Hel", "lo, ", "wor", "ld!"], prompt_tokens=11)


@pytest.fixture
def server(backend):
    with running_server(create_app(backend)) as running:
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as sdk:
        yield sdk


def raw_post(server, body: dict) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_stream_frames_follow_the_wire_format(server):
    status, headers, raw = raw_post(
        server, {"model": "tutor-test", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    )

    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    frames = raw.decode().split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    chunks = [json.loads(f.removeprefix("data: ")) for f in frames[:-2]]
    assert all(f.startswith("data: {") for f in frames[:-2])
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {c["model"] for c in chunks} == {"tutor-test"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[1:-2])
    assert text == "Hello, world!"
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(server):
    _, _, raw = raw_post(server, {"model": "tutor-test", "messages": HI, "stream": True})

    chunks = [json.loads(f.removeprefix("data: ")) for f in raw.decode().split("\n\n")[:-2]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_sdk_streams_text_finish_reason_and_usage(client):
    stream = client.chat.completions.create(
        model="tutor-test", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello, world!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.prompt_tokens == 11
    assert chunks[-1].usage.completion_tokens == 4
    assert chunks[-1].usage.total_tokens == 15


def test_sdk_non_streaming_returns_a_chat_completion(client):
    reply = client.chat.completions.create(model="tutor-test", messages=HI)

    assert reply.object == "chat.completion"
    assert reply.model == "tutor-test"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "Hello, world!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (11, 4, 15)


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_token_limit_reports_length(client, backend, limit):
    reply = client.chat.completions.create(model="tutor-test", messages=HI, **{limit: 2})

    assert reply.choices[0].message.content == "Hello, "
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 2
    assert backend.calls[-1][1].max_tokens == 2


def test_stop_string_across_chunks_cuts_the_text_and_stops_generation(client, backend):
    # "o, w" spans three chunks: "Hel|lo, |wor"
    stream = client.chat.completions.create(model="tutor-test", messages=HI, stream=True, stop=["o, w", "zzz"])
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hell"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert backend.produced == 3  # "ld!" was never generated
    assert backend.closed_early == 1


def test_stop_string_in_a_non_streaming_answer(client):
    reply = client.chat.completions.create(model="tutor-test", messages=HI, stop="wor")

    assert reply.choices[0].message.content == "Hello, "
    assert reply.choices[0].finish_reason == "stop"


def test_sampling_options_reach_the_backend(client, backend):
    client.chat.completions.create(
        model="tutor-test",
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        temperature=0.7,
        top_p=0.5,
        seed=42,
        max_completion_tokens=3,
        user="ignored",
    )

    messages, options = backend.calls[-1]
    assert messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert (options.temperature, options.top_p, options.seed, options.max_tokens) == (0.7, 0.5, 42, 3)


def test_models_list_and_retrieve(client):
    assert [m.id for m in client.models.list()] == ["tutor-test"]
    assert client.models.retrieve("tutor-test").owned_by == "tutor"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_health_reports_the_worker(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/health")
    body = json.loads(conn.getresponse().read())
    conn.close()

    assert body == {"status": "ok", "model": "tutor-test", "busy": False, "running": 0, "workers": 1, "queued": 0, "max_queued": 8}
