"""tutor as a client of a server that behaves like vLLM (the scale-out path beyond one machine)."""

from __future__ import annotations

import pytest

from openai_server import Reply, vllm_error
from tutor.backends.openai import OpenAIBackend
from tutor.errors import BackendError
from tutor.options import GenerationOptions

HI = [{"role": "user", "content": "Explain recursion."}]


def backend(server) -> OpenAIBackend:
    return OpenAIBackend(model="Qwen/Qwen2.5-7B-Instruct", api_key="token-abc123", base_url=server.base_url)


def test_a_vllm_stream_is_read_whole_with_usage_from_the_last_frame(openai_server):
    openai_server.enqueue(Reply.stream(["Recursion ", "is a function ", "calling itself."], usage=(31, 7), vllm=True))
    chat = backend(openai_server)
    text = "".join(chat.stream(HI, GenerationOptions(max_tokens=50)))
    assert text == "Recursion is a function calling itself."
    usage = chat.last_usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.finish_reason) == (31, 7, "stop")
    sent = openai_server.chat_requests[-1]
    assert sent.body["model"] == "Qwen/Qwen2.5-7B-Instruct" and sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers["authorization"] == "Bearer token-abc123"


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_vllm_error_bodies_become_one_readable_line(openai_server, nested):
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    openai_server.enqueue(Reply.error(400, vllm_error(400, message, nested=nested)))
    with pytest.raises(BackendError) as caught:
        "".join(backend(openai_server).stream(HI, GenerationOptions()))
    text = str(caught.value)
    assert "maximum context length is 8192" in text and "\n" not in text
    assert "token-abc123" not in text


def test_an_unknown_model_on_vllm_says_which(openai_server):
    openai_server.enqueue(Reply.error(404, vllm_error(404, "The model `gpt-4o-mini` does not exist.")))
    with pytest.raises(BackendError, match="gpt-4o-mini"):
        "".join(backend(openai_server).stream(HI, GenerationOptions()))
