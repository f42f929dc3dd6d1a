"""`tutor serve` end to end: a real (tiny) local model, and `tutor explain` as its client."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from serve_fakes import ScriptBackend, running_server  # noqa: E402

from tutor.serve.app import create_app  # noqa: E402

HI = [{"role": "system", "content": "You are a tutor."}, {"role": "user", "content": "Explain recursion."}]
KEY = "sk-serve-e2e"


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_model import save_tiny_model

    from tutor.backends.transformers import TransformersBackend

    directory = save_tiny_model(tmp_path_factory.mktemp("serve-tiny") / "tiny")
    backend = TransformersBackend(model=str(directory), device="cpu")
    backend.load()
    return backend


def test_tiny_model_streams_and_answers_alike_through_the_sdk(tiny_backend):
    with running_server(create_app(tiny_backend, model="tiny")) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)
        request = dict(model="tiny", messages=HI, temperature=0, max_tokens=12, seed=3)

        chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **request))
        whole = client.chat.completions.create(**request)

        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == whole.choices[0].message.content
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        assert finish == whole.choices[0].finish_reason
        usage = chunks[-1].usage
        assert usage.prompt_tokens == whole.usage.prompt_tokens > 0
        assert usage.completion_tokens == whole.usage.completion_tokens
        assert 1 <= usage.completion_tokens <= 12
        assert finish == "stop" or (finish == "length" and usage.completion_tokens == 12)


def test_tiny_model_stop_string_cuts_the_answer(tiny_backend):
    with running_server(create_app(tiny_backend, model="tiny")) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)
        request = dict(model="tiny", messages=HI, temperature=0, max_tokens=12, seed=3)
        full = client.chat.completions.create(**request).choices[0].message.content
        assert len(full) >= 4
        stop = full[2:4]

        cut = client.chat.completions.create(stop=[stop], **request)

        assert cut.choices[0].message.content == full[: full.index(stop)]
        assert cut.choices[0].finish_reason == "stop"


def test_tutor_explain_uses_the_server_as_its_openai_backend(tmp_path):
    backend = ScriptBackend(["# Recursion\n\n", "A function that ", "calls itself."])
    with running_server(create_app(backend, api_key=KEY)) as server:
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": KEY,
            "TUTOR_MODEL": "tutor-test",
            "TUTOR_NO_HISTORY": "1",
        }
        done = subprocess.run(
            [sys.executable, "-m", "tutor", "explain", "Recursion", "--backend", "openai", "--no-feedback"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    assert done.returncode == 0, done.stderr
    assert "A function that calls itself." in done.stdout
    messages, _ = backend.calls[0]
    assert messages[-1]["role"] == "user" and "Recursion" in messages[-1]["content"]
