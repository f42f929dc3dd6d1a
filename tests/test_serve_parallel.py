"""`tutor serve` on a GGUF model: llama.cpp slots answer several requests at once."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

pytest.importorskip("xllamacpp")
pytest.importorskip("starlette")

from serve_fakes import running_server  # noqa: E402
from tiny_gguf import write_tiny_gguf  # noqa: E402

from tutor.backends.llama import LlamaBackend  # noqa: E402
from tutor.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    path = write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", context=4096)
    backend = LlamaBackend(path=path, model="tiny", device="cpu", threads=1, parallel=2, fit_context=False)
    backend.load()
    yield backend
    backend.close()


def open_stream(port: int, max_tokens: int) -> http.client.HTTPConnection:
    """Start a streamed request and read until its first text frame arrives."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = {"model": "any", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "max_tokens": max_tokens, "temperature": 0}
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    while b'"content"' not in response.readline():
        pass
    return conn


def test_two_streams_generate_at_once_and_a_disconnect_frees_its_slot(llama):
    with running_server(create_app(llama, workers=2, max_queued=0)) as server:
        worker = server.app.state.serve.worker
        first = open_stream(server.port, 20_000)
        second = open_stream(server.port, 20_000)
        assert len(worker.running) == 2  # both are mid-answer: neither waited for the other
        first.close()
        assert worker.wait_until(lambda: len(worker.running) == 1, timeout=30)
        second.close()
        assert worker.wait_idle(timeout=30)


def test_each_concurrent_answer_has_its_own_usage(llama):
    results: dict[int, dict] = {}

    def ask(port: int, tokens: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = {"model": "any", "messages": [{"role": "user", "content": "hi"}], "max_tokens": tokens, "temperature": 0}
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        results[tokens] = json.loads(conn.getresponse().read())
        conn.close()

    with running_server(create_app(llama, workers=2)) as server:
        threads = [threading.Thread(target=ask, args=(server.port, n)) for n in (7, 13)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert results[7]["usage"]["completion_tokens"] == 7
    assert results[13]["usage"]["completion_tokens"] == 13
    assert results[7]["model"] == "tiny"


def test_a_json_schema_response_format_constrains_the_gguf_models_answer(llama):
    schema = {"type": "object", "properties": {"grade": {"type": "string", "enum": ["correct", "incorrect"]}},
              "required": ["grade"], "additionalProperties": False}
    body = {"model": "any", "messages": [{"role": "user", "content": "grade it"}], "max_tokens": 60, "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "grade", "schema": schema}}}
    with running_server(create_app(llama, workers=2)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        conn.close()
    # a random tiny model, yet the grammar leaves it nothing but JSON of this shape
    assert json.loads(reply["choices"][0]["message"]["content"])["grade"] in ("correct", "incorrect")
