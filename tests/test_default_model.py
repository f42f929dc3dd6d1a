"""The real default offline model, for a few tokens (slow: assembles and loads 1.1 GB once)."""

from __future__ import annotations

import pytest

pytest.importorskip("xllamacpp")

from tutor.backends.llama import LlamaBackend  # noqa: E402
from tutor.config import DEFAULT_LOCAL_MODEL  # noqa: E402
from tutor.errors import ModelError  # noqa: E402
from tutor.models.resolve import resolve_local  # noqa: E402
from tutor.options import GenerationOptions  # noqa: E402


@pytest.mark.slow
def test_the_default_model_answers_a_fact_correctly(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path_factory.mktemp("default-model-home")))
    try:
        model = resolve_local(DEFAULT_LOCAL_MODEL)
    except ModelError as exc:
        pytest.skip(f"the default model is not installed: {exc}")
    backend = LlamaBackend(path=model.path, model=model.name, device="cpu")
    try:
        messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        text = "".join(backend.stream(messages, GenerationOptions(temperature=0, max_tokens=8, seed=0)))
        usage = backend.last_usage
    finally:
        backend.close()
    assert "paris" in text.lower()
    assert usage.completion_tokens <= 8 and usage.prompt_tokens > 10
