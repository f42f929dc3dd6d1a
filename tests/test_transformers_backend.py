"""The transformers backend (model folders) on a tiny random Llama."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from tiny_model import save_tiny_model
from tutor.errors import BackendError, ModelError, UsageError
from tutor.options import GenerationOptions

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tutor.backends.transformers import TransformersBackend  # noqa: E402
from tutor.gpt.detokenize import IncrementalDecoder  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a tutor."},
    {"role": "user", "content": "Explain recursion."},
]
GREEDY = GenerationOptions(temperature=0, max_tokens=24, repetition_penalty=1.0)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "chat": save_tiny_model(root / "chat", chat_template=True),
        "plain": save_tiny_model(root / "plain", chat_template=False),
        "bias": save_tiny_model(root / "bias", chat_template=True, attention_bias=True),
    }


@pytest.fixture(scope="session")
def chat_backend(tiny_dirs):
    backend = TransformersBackend(model=str(tiny_dirs["chat"]), device="cpu")
    backend.load()
    return backend


def _workers_alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tutor-local-generate" and t.is_alive()]


def _reference_ids(directory, prompt_ids, max_new):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(directory))
    ids = torch.tensor([prompt_ids])
    out = model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
        eos_token_id=model.config.eos_token_id,
    )
    return out[0, len(prompt_ids) :].tolist()


def test_repetition_penalty_spares_the_prompt_and_covers_earlier_answers(tiny_dirs):
    from transformers import AutoModelForCausalLM

    from tutor.backends.transformers_engine import GenerateEngine, SamplingSettings

    engine = GenerateEngine(AutoModelForCausalLM.from_pretrained(str(tiny_dirs["chat"])).eval(), pad_token_id=None)

    def run(prompt, penalty, earlier=frozenset()):
        settings = SamplingSettings(temperature=0, top_p=1.0, top_k=None, repetition_penalty=penalty,
                            max_new_tokens=24, seed=None, stop_ids=frozenset(), penalised_ids=earlier)
        ids: list[int] = []
        engine.run(prompt, settings, ids.append, threading.Event())
        return ids

    base = [5, 17, 42, 99, 7, 3]
    greedy = run(base, 1.0)
    # Cut where the model's next token is one it has already seen: the prompt then holds it.
    j = next(j for j in range(1, len(greedy)) if greedy[j] in base + greedy[:j])
    prompt = base + greedy[:j]
    plain = run(prompt, 1.0)
    assert run(prompt, 1.8)[0] == plain[0] == greedy[j]  # a prompt token, yet not penalised
    assert run(base, 1.8)[: j + 1] != greedy[: j + 1]  # the answer's own repeat is
    assert run(prompt, 1.8, frozenset({plain[0]}))[0] != plain[0]  # and an earlier answer's token


def test_earlier_answers_are_what_the_penalty_covers_in_the_prompt(chat_backend):
    messages = [*MESSAGES, {"role": "assistant", "content": "zebra stripes"}, {"role": "user", "content": "simpler"}]
    expected = set(chat_backend._tokenizer("zebra stripes", add_special_tokens=False)["input_ids"])
    assert chat_backend._earlier_answer_ids(messages) == expected
    assert chat_backend._earlier_answer_ids(MESSAGES) == frozenset()


@pytest.mark.parametrize("variant", ["chat", "bias"])
def test_stream_equals_decode_of_generated_ids(tiny_dirs, variant):
    backend = TransformersBackend(model=str(tiny_dirs[variant]), device="cpu")
    text = "".join(backend.stream(MESSAGES, GREEDY))
    prompt = backend.prompt_ids(MESSAGES)
    generated = _reference_ids(tiny_dirs[variant], prompt, GREEDY.max_tokens)
    assert text == backend._tokenizer.decode(generated, skip_special_tokens=True)
    usage = backend.last_usage
    assert usage.backend == "local"
    assert usage.prompt_tokens == len(prompt)
    assert usage.completion_tokens == len(generated)
    assert usage.finish_reason == ("length" if len(generated) == GREEDY.max_tokens else "stop")


def test_close_after_two_chunks_stops_the_worker(chat_backend):
    stream = chat_backend.stream(MESSAGES, GenerationOptions(temperature=1.0, seed=3, max_tokens=400))
    next(stream)
    next(stream)
    stream.close()
    assert _workers_alive() == []
    usage = chat_backend.last_usage
    assert usage.finish_reason is None
    assert 2 <= usage.completion_tokens < 400


def test_keyboard_interrupt_in_consumer_stops_the_worker(chat_backend):
    stream = chat_backend.stream(MESSAGES, GenerationOptions(temperature=1.0, seed=3, max_tokens=400))
    next(stream)
    with pytest.raises(KeyboardInterrupt):
        stream.throw(KeyboardInterrupt)
    assert _workers_alive() == []
    assert chat_backend.last_usage.finish_reason is None


class _FailingEngine:
    max_positions = 512

    def run(self, prompt_ids, settings, emit, stop):
        emit(65)
        raise RuntimeError("out of memory in the worker")


def test_worker_error_reaches_the_caller(tiny_dirs):
    backend = TransformersBackend(model=str(tiny_dirs["chat"]), device="cpu")
    backend.load()
    backend._engine = _FailingEngine()  # stands in for a model that crashes mid-answer
    with pytest.raises(BackendError, match="out of memory in the worker"):
        list(backend.stream(MESSAGES, GREEDY))
    assert _workers_alive() == []


def test_seed_makes_sampling_reproducible(chat_backend):
    def sample(seed):
        return "".join(chat_backend.stream(MESSAGES, GenerationOptions(temperature=1.0, seed=seed, max_tokens=30)))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_top_k_top_p_and_penalty_sampling_is_reproducible(chat_backend):
    options = GenerationOptions(temperature=0.8, top_p=0.5, top_k=5, repetition_penalty=1.3, seed=7, max_tokens=20)
    first = "".join(chat_backend.stream(MESSAGES, options))
    assert first == "".join(chat_backend.stream(MESSAGES, options))


def test_temperature_zero_is_reproducible(chat_backend):
    options = GenerationOptions(temperature=0, max_tokens=20)
    assert "".join(chat_backend.stream(MESSAGES, options)) == "".join(chat_backend.stream(MESSAGES, options))


def test_chat_template_prompt(chat_backend):
    assert chat_backend.uses_chat_template
    assert chat_backend.prompt_text(MESSAGES) == (
        "<|im_start|>system\nYou are a tutor.<|im_end|>\n"
        "<|im_start|>user\nExplain recursion.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_transcript_prompt_without_chat_template(tiny_dirs):
    backend = TransformersBackend(model=str(tiny_dirs["plain"]), device="cpu")
    assert not backend.uses_chat_template
    assert backend.prompt_text(MESSAGES) == (
        "### System:\nYou are a tutor.\n\n### User:\nExplain recursion.\n\n### Assistant:\n"
    )
    text = "".join(backend.stream(MESSAGES, GREEDY))
    assert "\n### " not in text


def test_incremental_decoder_never_splits_a_character(chat_backend):
    tokenizer = chat_backend._tokenizer
    text = "Café € naïve 🙂 done"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text.split())  # multi-byte characters span several tokens
    decoder = IncrementalDecoder(tokenizer)
    chunks = [decoder.add(i) for i in ids] + [decoder.flush()]
    assert all("\ufffd" not in c for c in chunks)
    assert "".join(chunks) == text



def test_tutor_sample_streams_the_same_text_as_one_decode_special_tokens_kept(chat_backend):
    from tutor.gpt.sample import stream_text

    tokenizer = chat_backend._tokenizer
    ids = tokenizer("<|im_start|>Café € naïve 🙂<|im_end|> done " * 20, add_special_tokens=False)["input_ids"]
    chunks = list(stream_text(tokenizer, iter(ids)))
    assert all("\ufffd" not in c for c in chunks)
    whole = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    assert "".join(chunks) == whole and "<|im_end|>" in whole

def test_missing_path_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        TransformersBackend(model=str(tmp_path / "nowhere")).load()


def test_directory_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model directory"):
        TransformersBackend(model=str(tmp_path)).load()


def test_truncated_safetensors_is_a_model_error(tiny_dirs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dirs["chat"], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ModelError, match="truncated"):
        TransformersBackend(model=str(broken)).load()


def test_gguf_with_unsupported_architecture(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "weird.gguf"
    writer = gguf.GGUFWriter(str(path), "nosuchnet")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", __import__("numpy").zeros((4, 4), dtype="float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelError, match="nosuchnet"):
        TransformersBackend(model=str(path)).load()


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a GGUF file"):
        TransformersBackend(model=str(path)).load()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu(tiny_dirs):
    with pytest.raises(ModelError, match="no CUDA GPU"):
        TransformersBackend(model=str(tiny_dirs["chat"]), device="cuda").load()


def test_unknown_device_is_a_usage_error():
    with pytest.raises(UsageError, match="--device"):
        TransformersBackend(model="m", device="tpu")


def test_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, tutor.backends.transformers; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_prompt_longer_than_the_context_keeps_its_end(chat_backend):
    long = [{"role": "user", "content": "recursion " * 600}]  # far beyond 512 positions
    text = "".join(chat_backend.stream(long, GenerationOptions(temperature=0, max_tokens=8)))
    usage = chat_backend.last_usage
    assert isinstance(text, str)
    assert usage.prompt_tokens == 512 - 8
    assert "did not fit the model's 512-token context" in usage.notice
    assert usage.completion_tokens <= 8



def test_loading_a_model_folder_reads_its_config_once(tiny_dirs):
    """config.json is parsed once and handed along (tokenizer, weights, stop ids): an audit hook,
    in a fresh process of its own, counts every open of it during `load()`."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'open' else None)\n"
        "from tutor.backends.transformers import TransformersBackend\n"
        "opened.clear()\n"
        f"TransformersBackend(model={str(tiny_dirs['chat'])!r}, device='cpu').load()\n"
        "print(sum(name.endswith('config.json') and not name.endswith('_config.json') for name in opened))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "1"
