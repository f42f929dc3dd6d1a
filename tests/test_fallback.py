"""`--backend auto`: OpenAI first; the local model when OpenAI cannot start an answer."""

from __future__ import annotations

import socket

import pytest

from fakes import FakeBackend
from openai_server import Reply
from tutor.backends.fallback import FallbackBackend
from tutor.backends.openai import OpenAIBackend
from tutor.backends.select import build_backend
from tutor.config import load_settings
from tutor.errors import ConfigError, ModelError, StreamBroken
from tutor.options import GenerationOptions

MESSAGES = [{"role": "system", "content": "teach"}, {"role": "user", "content": "Explain entropy"}]


def auto_backend(base_url: str, local: FakeBackend, notices: list[str]) -> FallbackBackend:
    primary = OpenAIBackend(model="gpt-4o-mini", api_key="sk-test-fallback-1111", base_url=base_url, sleep=lambda s: None)
    return FallbackBackend(primary, lambda: local, notices.append)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_openai_answers_when_it_can(openai_server):
    openai_server.enqueue(Reply.stream(["From ", "OpenAI"]))
    notices: list[str] = []
    local = FakeBackend(["from local"], name="local", model="smollm2")
    backend = auto_backend(openai_server.base_url, local, notices)
    assert "".join(backend.stream(MESSAGES, GenerationOptions())) == "From OpenAI"
    assert notices == [] and local.calls == []
    assert backend.last_usage.backend == "openai"


@pytest.mark.parametrize(
    ("replies", "named"),
    [
        ([Reply.error(401)], "401"),
        ([Reply.error(500)] * 3, "500"),
    ],
)
def test_failure_before_the_first_token_falls_back_with_a_notice(openai_server, replies, named):
    openai_server.enqueue(*replies)
    notices: list[str] = []
    local = FakeBackend(["Local ", "answer"], name="local", model="smollm2")
    backend = auto_backend(openai_server.base_url, local, notices)

    assert "".join(backend.stream(MESSAGES, GenerationOptions())) == "Local answer"

    assert len(notices) == 1
    assert notices[0].startswith("openai failed: ") and named in notices[0]
    assert notices[0].endswith("answering with local smollm2")
    assert "sk-test-fallback-1111" not in notices[0]
    assert local.calls == [MESSAGES]
    assert (backend.name, backend.model) == ("local", "smollm2")
    assert backend.last_usage.backend == "local"


def test_connection_refused_falls_back():
    notices: list[str] = []
    local = FakeBackend(["offline answer"], name="local", model="smollm2")
    backend = auto_backend(f"http://127.0.0.1:{unused_port()}/v1", local, notices)
    assert "".join(backend.stream(MESSAGES, GenerationOptions())) == "offline answer"
    assert len(notices) == 1 and "openai failed" in notices[0]


def test_a_failure_after_text_keeps_the_partial_and_does_not_restart(openai_server):
    openai_server.enqueue(Reply.stream(["Half ", "of it", " never"], drop_after=2))
    local = FakeBackend(["should not run"], name="local")
    backend = auto_backend(openai_server.base_url, local, [])
    received = []
    with pytest.raises(StreamBroken) as caught:
        for chunk in backend.stream(MESSAGES, GenerationOptions()):
            received.append(chunk)
    assert "".join(received) == "Half of it"
    assert caught.value.partial == "Half of it"
    assert local.calls == []


def test_the_fallback_is_built_once_and_only_when_needed(openai_server):
    built = []

    def make_local():
        built.append(1)
        return FakeBackend(name="local")

    primary = OpenAIBackend(model="m", api_key="sk-x-000000000000", base_url=openai_server.base_url)
    backend = FallbackBackend(primary, make_local, lambda message: None)
    "".join(backend.stream(MESSAGES, GenerationOptions()))
    assert built == []
    openai_server.enqueue(Reply.error(401), Reply.error(401))
    "".join(backend.stream(MESSAGES, GenerationOptions()))
    "".join(backend.stream(MESSAGES, GenerationOptions()))
    assert built == [1]


def test_auto_without_a_key_uses_local_and_says_why(tmp_path):
    notices: list[str] = []
    settings = load_settings({"model": str(tmp_path / "no-such-model")}, environ={}, cwd=tmp_path)
    assert settings.local_model == str(tmp_path / "no-such-model")
    with pytest.raises(ModelError, match="no-such-model"):
        build_backend("auto", settings, notify=notices.append)
    assert notices == [f"no OPENAI_API_KEY; using local {tmp_path / 'no-such-model'}"]


def test_openai_without_a_key_but_with_a_base_url_needs_no_key(openai_server, tmp_path):
    settings = load_settings({"backend": "openai"}, environ={"OPENAI_BASE_URL": openai_server.base_url}, cwd=tmp_path)
    backend = build_backend("openai", settings, notify=lambda m: None)
    assert "You asked: Explain entropy" in "".join(backend.stream(MESSAGES, GenerationOptions()))


def test_openai_without_a_key_or_base_url_is_a_config_error(tmp_path):
    settings = load_settings({"backend": "openai"}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        build_backend("openai", settings, notify=lambda m: None)


def test_an_unknown_backend_names_the_known_ones(tmp_path):
    settings = load_settings({}, environ={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"^unknown backend 'gpu': use auto, openai or local$"):
        build_backend("gpu", settings, notify=lambda m: None)
