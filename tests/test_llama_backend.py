"""The llama.cpp backend on a tiny random GGUF the tests write (tests/tiny_gguf.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp")

from tiny_gguf import write_tiny_gguf  # noqa: E402

from tutor.backends.llama import LlamaBackend, _drop_earliest_turn  # noqa: E402
from tutor.errors import BackendError, ModelError  # noqa: E402
from tutor.options import GenerationOptions  # noqa: E402

GREEDY = GenerationOptions(temperature=0, max_tokens=16)
MESSAGES = [{"role": "system", "content": "You teach."}, {"role": "user", "content": "Explain hashing."}]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def backend(tiny_gguf):
    llama = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1)
    llama.load()
    yield llama
    llama.close()


def answer(backend, messages=MESSAGES, options=GREEDY) -> str:
    return "".join(backend.stream(messages, options))


def test_greedy_answers_repeat_and_usage_is_exact(backend):
    first = answer(backend)
    usage = backend.last_usage
    assert first and answer(backend) == first
    assert usage.completion_tokens == 16 and usage.finish_reason == "length"
    assert usage.prompt_tokens > 10 and usage.backend == "local" and usage.model == "tiny"


def test_a_seed_makes_sampling_reproducible(backend):
    sampled = lambda seed: answer(backend, options=GenerationOptions(temperature=1.0, max_tokens=24, seed=seed))  # noqa: E731
    assert sampled(3) == sampled(3)
    assert sampled(3) != sampled(4)


def test_a_revision_reads_only_the_new_tokens(backend):
    answer(backend)
    first = backend.last_usage
    revision = MESSAGES + [
        {"role": "assistant", "content": "A hash function maps a key to a bucket."},
        {"role": "user", "content": "simpler"},
    ]
    answer(backend, revision)
    second = backend.last_usage
    new_tokens = second.prompt_tokens - first.prompt_tokens
    assert second.prompt_tokens > first.prompt_tokens
    # llama.cpp re-reads the prompt's last token to get fresh logits, nothing earlier
    assert second.prompt_tokens_read <= new_tokens + 1


def test_closing_the_stream_cancels_the_request(backend):
    chunks = backend.stream(MESSAGES, GenerationOptions(temperature=0, max_tokens=400))
    next(chunks)
    chunks.close()
    for worker in list(backend._active):
        worker.join(timeout=30)
    assert not backend._active
    assert backend.last_usage.completion_tokens < 400
    assert answer(backend)  # the slot is free again


def test_ctrl_c_in_the_consumer_cancels_the_request(backend):
    chunks = backend.stream(MESSAGES, GenerationOptions(temperature=0, max_tokens=400))
    with pytest.raises(KeyboardInterrupt):
        for _ in chunks:
            raise KeyboardInterrupt
    for worker in list(backend._active):
        worker.join(timeout=30)
    assert not backend._active


def test_a_long_conversation_keeps_what_fits(tiny_gguf):
    small = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1, context=160)
    try:
        long_turns = [
            {"role": "user", "content": "x" * 120},
            {"role": "assistant", "content": "y" * 120},
            {"role": "user", "content": "and now?"},
        ]
        text = answer(small, [MESSAGES[0], *long_turns], GenerationOptions(temperature=0, max_tokens=4))
        assert text
        assert "2 earliest messages did not fit" in small.last_usage.notice
        with pytest.raises(BackendError, match=r"needs \d+ tokens but the model's context holds \d+"):
            answer(small, [{"role": "system", "content": "z" * 400}, {"role": "user", "content": "hi"}])
    finally:
        small.close()


def test_dropping_turns_never_drops_the_system_prompt_or_the_newest_request():
    system, u1, a1, u2 = (
        {"role": "system", "content": "s"}, {"role": "user", "content": "1"},
        {"role": "assistant", "content": "a"}, {"role": "user", "content": "2"},
    )
    assert _drop_earliest_turn([system, u1, a1, u2]) == ([system, u2], 2)
    assert _drop_earliest_turn([system, u2]) == ([system, u2], 0)


def test_the_loopback_listener_needs_the_private_key(backend):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(backend._server.listening_address + "/v1/models", timeout=10)
    assert refused.value.code == 401


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "not found"),
        ("not_gguf", "is not a GGUF file"),
        ("truncated", "truncated"),
        ("architecture", "architecture 'nonesuch'"),
    ],
)
def test_unusable_files_are_one_clear_model_error(tmp_path, tiny_gguf, damage, message):
    path = tmp_path / "model.gguf"
    if damage == "not_gguf":
        path.write_text("hello")
    elif damage == "truncated":
        path.write_bytes(tiny_gguf.read_bytes()[: tiny_gguf.stat().st_size // 2])
    elif damage == "architecture":
        write_tiny_gguf(path, architecture="nonesuch")
    with pytest.raises(ModelError, match=message) as error:
        LlamaBackend(path=path, model="m", device="cpu").load()
    assert "\n" not in str(error.value)


def test_cuda_without_a_gpu_build(tiny_gguf):
    with pytest.raises(ModelError, match="--device cuda"):
        LlamaBackend(path=tiny_gguf, model="m", device="cuda").load()


def test_thread_setting_must_be_a_whole_number(tiny_gguf, monkeypatch):
    monkeypatch.setenv("TUTOR_LOCAL_THREADS", "two")
    with pytest.raises(ModelError, match="TUTOR_LOCAL_THREADS"):
        LlamaBackend(path=tiny_gguf, model="m")


def test_fresh_process_keeps_ctrl_c_and_never_imports_torch(tiny_gguf):
    code = (
        "import os, signal, sys, json\n"
        "from pathlib import Path\n"
        "from tutor.backends.llama import LlamaBackend\n"
        "from tutor.options import GenerationOptions\n"
        f"b = LlamaBackend(path=Path({str(tiny_gguf)!r}), model='t', device='cpu', threads=1)\n"
        "b.load()\n"
        "text = ''.join(b.stream([{'role': 'user', 'content': 'hi'}], GenerationOptions(temperature=0, max_tokens=300)))\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    interrupted = False\n"
        "except KeyboardInterrupt:\n"
        "    interrupted = True\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,"
        " 'interrupted': interrupted, 'text': bool(text)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "torch": False, "transformers": False, "interrupted": True, "text": True
    }


def test_a_new_process_starts_from_the_saved_first_answer(tiny_gguf, tmp_path):
    cache = tmp_path / "slots"
    first = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1, prefix_cache=cache)
    answer(first)
    cold = first.last_usage
    first.close()
    assert len(list(cache.iterdir())) == 1  # the first whole answer, saved
    later = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1, prefix_cache=cache)
    try:
        answer(later, [MESSAGES[0], {"role": "user", "content": "Explain hashing again."}])
        warm = later.last_usage
    finally:
        later.close()
    assert cold.prompt_tokens_read == cold.prompt_tokens  # nothing to start from
    assert warm.prompt_tokens_read < warm.prompt_tokens / 2  # the system prompt came from the file


def test_a_damaged_saved_slot_only_costs_the_reread(tiny_gguf, tmp_path):
    cache = tmp_path / "slots"
    first = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1, prefix_cache=cache)
    answer(first)
    first.close()
    (saved,) = cache.iterdir()
    saved.write_bytes(b"garbage" * 10)
    later = LlamaBackend(path=tiny_gguf, model="tiny", device="cpu", threads=1, prefix_cache=cache)
    try:
        assert answer(later)
        assert later.last_usage.prompt_tokens_read == later.last_usage.prompt_tokens
    finally:
        later.close()


def test_a_json_schema_is_enforced_by_a_grammar(backend):
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
              "additionalProperties": False}
    text = answer(backend, options=GenerationOptions(temperature=0, max_tokens=40, json_schema=schema))
    assert isinstance(json.loads(text)["answer"], int)  # a random model, yet valid JSON of this shape


def test_only_a_prose_revision_is_kept_from_repeating_the_last_answer(backend):
    revision = MESSAGES + [{"role": "assistant", "content": "An answer."}, {"role": "user", "content": "shorter"}]
    assert backend._request(revision, GREEDY)["dry_multiplier"] > 0
    assert "dry_multiplier" not in backend._request(MESSAGES, GREEDY)  # a first answer
    graded = GenerationOptions(temperature=0, json_schema={"type": "object"})
    assert "dry_multiplier" not in backend._request(revision, graded)  # a grader quotes verbatim
