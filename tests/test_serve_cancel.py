"""`tutor serve` stops generating for clients that leave, and ends streams properly at shutdown.

The backends here wait on a semaphore before each token, so every step is driven by the test:
no sleeps, no timed assertions (the timeouts only keep a broken build from hanging).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fakes import gated_backend, running_server  # noqa: E402

from tutor.serve.app import create_app  # noqa: E402

HI = [{"role": "user", "content": "hi"}]
TESTS = Path(__file__).parent


def sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=30)


def test_a_client_that_disconnects_stops_generation_and_frees_the_worker():
    backend = gated_backend()
    with running_server(create_app(backend)) as server:
        worker = server.worker
        backend.gate.release()  # token 1
        stream = sdk(server).chat.completions.create(model="tutor-test", messages=HI, stream=True)
        chunks = iter(stream)
        assert next(chunks).choices[0].delta.role == "assistant"
        assert next(chunks).choices[0].delta.content == "t0 "
        job = worker.current
        assert job is not None and backend.produced == 1

        stream.close()  # the client hangs up while the model waits for token 2
        assert job.cancelled.wait(10), "the server did not notice the disconnect"
        backend.gate.release(20)  # plenty of tokens on offer: only the one in progress is made
        assert worker.wait_idle(10)

        assert backend.produced == 2
        assert backend.closed_early == 1  # the backend's iterator was closed
        assert job.cancel_reason == "disconnect"
        again = sdk(server).chat.completions.create(model="tutor-test", messages=HI, max_tokens=3)
        assert again.choices[0].message.content == "t0 t1 t2 "  # the freed worker answers at once


def test_a_non_streaming_client_that_disconnects_stops_generation_too():
    backend = gated_backend()
    with running_server(create_app(backend)) as server:
        worker = server.worker
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "tutor-test", "messages": HI}))
        assert worker.wait_until(lambda: worker.current is not None, timeout=10)
        job = worker.current
        backend.gate.release()
        conn.close()  # gives up before the answer is complete

        assert job.cancelled.wait(10)
        backend.gate.release(20)
        assert worker.wait_idle(10)
        assert backend.produced <= 2 and backend.closed_early == 1


def test_a_waiting_client_that_disconnects_leaves_the_queue():
    backend = gated_backend(["a", "b"])
    with running_server(create_app(backend)) as server:
        worker = server.worker
        backend.gate.release()
        running = iter(sdk(server).chat.completions.create(model="tutor-test", messages=HI, stream=True))
        next(running)

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"model": "tutor-test", "messages": HI}))
        assert worker.wait_until(lambda: worker.queued == 1, timeout=10)
        conn.close()  # gives up while waiting
        assert worker.wait_until(lambda: worker.queued == 0, timeout=10)

        backend.gate.release()
        assert "".join(c.choices[0].delta.content or "" for c in running if c.choices) == "ab"
        assert worker.wait_idle(10)
        assert len(backend.calls) == 1  # the abandoned request never reached the model


def test_shutdown_ends_the_running_stream_with_an_error_frame_and_refuses_the_waiting():
    backend = gated_backend()
    with running_server(create_app(backend), grace=0) as server:
        client = sdk(server)
        backend.gate.release()
        running = iter(client.chat.completions.create(model="tutor-test", messages=HI, stream=True))
        next(running)
        refused: list = []

        def wait_in_queue() -> None:
            try:
                client.chat.completions.create(model="tutor-test", messages=HI)
            except openai.APIStatusError as exc:
                refused.append(exc)

        waiter = threading.Thread(target=wait_in_queue, daemon=True)
        waiter.start()
        assert server.worker.wait_until(lambda: server.worker.queued == 1, timeout=10)

        server.shutdown()  # what SIGTERM does
        waiter.join(10)
        assert refused and refused[0].status_code == 503
        assert server.worker.current.cancelled.wait(10)
        backend.gate.release()  # the model reaches its next step and sees the cancel
        with pytest.raises(openai.APIError, match="shutting down"):
            for _ in running:
                pass


def _start_paced_server(count: int, grace: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(TESTS / "serve_fakes.py"), str(count), str(grace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])},
    )
    port = int(proc.stdout.readline())
    return proc, port


def _sigterm_after_first_chunk(proc, port):
    """Start a stream from the server, then SIGTERM it once the first chunk is in; the rest."""
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=30)
    chunks = iter(client.chat.completions.create(model="tutor-test", messages=HI, stream=True))
    next(chunks)
    proc.send_signal(signal.SIGTERM)
    return chunks


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_sigterm_lets_a_stream_in_flight_finish_within_the_grace_period():
    proc, port = _start_paced_server(count=100, grace=60)
    try:
        chunks = _sigterm_after_first_chunk(proc, port)
        rest = list(chunks)
        assert rest[-1].choices[0].finish_reason == "stop"
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_sigterm_after_the_grace_period_ends_the_stream_with_an_error_frame():
    proc, port = _start_paced_server(count=100_000, grace=0)
    try:
        chunks = _sigterm_after_first_chunk(proc, port)
        with pytest.raises(openai.APIError, match="shutting down"):
            for _ in chunks:
                pass
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        proc.kill()
        proc.communicate()


def test_a_stream_waiting_in_the_queue_gets_keep_alives_and_then_its_answer():
    backend = gated_backend(["a", "b"])
    with running_server(create_app(backend, heartbeat=0.01)) as server:
        client = sdk(server)
        backend.gate.release()
        running = iter(client.chat.completions.create(model="tutor-test", messages=HI, stream=True))
        next(running)

        # The model is busy, yet this stream starts: keep-alive comments flow until its turn.
        waiting = iter(client.chat.completions.create(model="tutor-test", messages=HI, stream=True))
        assert server.worker.queued == 1
        backend.gate.release(3)

        assert "".join(c.choices[0].delta.content or "" for c in running if c.choices) == "ab"
        chunks = list(waiting)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ab"
        assert chunks[-1].choices[0].finish_reason == "stop"
