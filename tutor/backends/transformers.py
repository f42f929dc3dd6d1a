"""Hugging Face model folders (what `tutor train` writes) on transformers and torch.

GGUF models run on llama.cpp instead (`llama.py`). A worker thread runs `model.generate` and
puts token ids into a queue; `stream` decodes them incrementally (never half a character),
cuts the transcript format at its stop string, and on close or Ctrl-C sets an event that the
worker checks every step, then joins it. torch and transformers are imported in `load()`, so
importing this module is cheap. CUDA runs in bf16, the CPU in fp32.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Iterator, Sequence

from tutor import transcript
from tutor.backends.base import UsageMeter
from tutor.options import GenerationOptions, Message, Usage
from tutor.errors import BackendError, ContextOverflow, ModelError, UsageError, first_line
from tutor.models.store import LoadProgress, ResolvedModel, resolve

DEVICES = ("auto", "cpu", "cuda")
DEFAULTS = dict(temperature=0.2, top_p=0.9, top_k=None, repetition_penalty=1.1, max_tokens=1024)
POLL_SECONDS = 0.1  # how often the consumer checks that the worker is still alive


class LocalBackend:
    """Generate answers with a Hugging Face model folder.

    Args:
        model: a Hugging Face model directory, or the name of a model trained by `tutor train`.
        device: "auto" (CUDA when available), "cpu" or "cuda".
        progress: told about slow loading steps; see `LoadProgress`.
        fit_context: keep the end of a prompt too long for the context (a lesson); False
            refuses it with `ContextOverflow` (a server's client decides what to drop).
    """

    name = "local"

    def __init__(
        self,
        *,
        model: str,
        device: str = "auto",
        progress: LoadProgress | None = None,
        fit_context: bool = True,
    ) -> None:
        if device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
        self.model = model
        self.device = device
        self.progress = progress
        self.fit_context = fit_context
        self.resolved: ResolvedModel | None = None
        self._engine = None
        self._tokenizer = None
        self._stop_ids: frozenset[int] = frozenset()
        self._last_usage: Usage | None = None
        self._busy = threading.Lock()  # one answer at a time: the engine owns one KV cache

    @property
    def last_usage(self) -> Usage | None:
        return self._last_usage

    def load(self) -> None:
        """Resolve, convert if needed, and load the model. Does nothing when already loaded.

        Raises:
            ModelError: the model is missing or broken, or CUDA was asked for without a GPU.
        """
        if self._engine is not None:
            return
        device = _pick_device(self.device)
        resolved = resolve(self.model, progress=self.progress)
        path = resolved.path
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"Cannot read {path / 'config.json'}: {exc}") from None
        # One thread only: transformers' lazy module is not safe to import from two threads at
        # once, and loading the tokenizer beside the weights broke every trained model in a
        # fresh process ("cannot import name 'AutoModelForCausalLM'").
        self._tokenizer = _load_tokenizer(path)
        engine = _load_engine(path, device, getattr(self._tokenizer, "pad_token_id", None))
        self._stop_ids = _stop_ids(path, config, self._tokenizer)
        self._engine = engine
        self.resolved = resolved

    @property
    def uses_chat_template(self) -> bool:
        self.load()
        return bool(getattr(self._tokenizer, "chat_template", None))

    def prompt_text(self, messages: Sequence[Message]) -> str:
        """The exact text the model reads: its chat template, or else the transcript format."""
        if self.uses_chat_template:
            msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
            return self._tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        return transcript.format_transcript(messages, add_generation_prompt=True)

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        text = self.prompt_text(messages)
        # A chat template writes its own special tokens; the transcript gets the tokenizer's.
        ids = self._tokenizer(text, add_special_tokens=not self.uses_chat_template)["input_ids"]
        return list(ids)

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Yield the answer in chunks; closing the iterator stops the worker within one step."""
        self.load()
        from tutor.backends.transformers_engine import Settings

        full = prompt = self.prompt_ids(messages)
        wanted = DEFAULTS["max_tokens"] if options.max_tokens is None else options.max_tokens
        context = self._engine.max_positions
        if not self.fit_context and len(prompt) >= context:
            raise ContextOverflow(
                f"The request needs {len(prompt)} tokens but the model's context holds {context}.", partial=""
            )
        if len(prompt) + wanted > context:
            # Keep the end of a prompt too long for the context (small trained models), leaving
            # room for at least half the context or the requested answer, whichever is less.
            keep = max(context - min(wanted, context // 2), 1)
            prompt = prompt[-keep:]
        cut = len(full) - len(prompt)
        room = context - len(prompt)
        pick = lambda name: DEFAULTS[name] if getattr(options, name) is None else getattr(options, name)  # noqa: E731
        settings = Settings(
            temperature=pick("temperature"),
            top_p=pick("top_p"),
            top_k=pick("top_k"),
            repetition_penalty=pick("repetition_penalty"),
            max_new_tokens=min(pick("max_tokens"), room),
            seed=options.seed,
            stop_ids=self._stop_ids,
            penalised_ids=self._earlier_answer_ids(messages),
        )
        notice = f"the first {cut} prompt tokens did not fit the model's {context}-token context" if cut else None
        return self._stream(prompt, settings, notice)

    def _earlier_answer_ids(self, messages: Sequence[Message]) -> frozenset[int]:
        """The tokens of the conversation's earlier answers, which the repetition penalty covers
        besides the new answer's own (see `local_engines.pick_token`)."""
        earlier = [m["content"] for m in messages if m["role"] == "assistant"]
        return frozenset(i for text in earlier for i in self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _stream(self, prompt: list[int], settings, notice: str | None) -> Iterator[str]:
        meter = UsageMeter(self.name, self.model)
        items: queue.Queue = queue.Queue()
        stop = threading.Event()
        state = {"generated": 0, "finish": None}

        def emit(token: int) -> None:
            state["generated"] += 1
            items.put(token)

        def work() -> None:
            try:
                with self._busy:
                    state["finish"] = self._engine.run(prompt, settings, emit, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
                items.put(exc)
            finally:
                items.put(_DONE)

        decoder = IncrementalDecoder(self._tokenizer)
        scanner = None if self.uses_chat_template else transcript.StopScanner()
        shown: list[str] = []
        finish: str | None = None
        meter.start()
        worker = threading.Thread(target=work, name="tutor-local-generate", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    item = items.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if not worker.is_alive() and items.empty():
                        raise BackendError("The local model stopped without finishing.", partial="".join(shown))
                    continue
                if item is _DONE:
                    finish = state["finish"]
                    text = decoder.flush()
                elif isinstance(item, BaseException):
                    raise BackendError(f"The local model failed: {item}", partial="".join(shown)) from item
                elif item in settings.stop_ids:
                    continue
                else:
                    text = decoder.add(item)
                if scanner is not None:
                    text = scanner.feed(text) + (scanner.flush() if item is _DONE else "")
                if text:
                    meter.chunk()
                    shown.append(text)
                    yield text
                if scanner is not None and scanner.stopped:
                    finish = "stop"
                    break
                if item is _DONE:
                    break
        finally:
            stop.set()
            worker.join()
            self._last_usage = meter.finish(
                prompt_tokens=len(prompt), completion_tokens=state["generated"], finish_reason=finish
            )
            self._last_usage.notice = notice


class IncrementalDecoder:
    """Turn ids into text as they come, holding back bytes of an unfinished character.

    Decodes a small window (prefix..end) and emits what it adds beyond prefix..read, so the
    chunks join up to exactly `tokenizer.decode(ids, skip_special_tokens=True)`.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def add(self, token: int) -> str:
        self.ids.append(token)
        return self._advance(final=False)

    def flush(self) -> str:
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        before = self._decode(self.ids[self.prefix : self.read])
        after = self._decode(self.ids[self.prefix :])
        if len(after) > len(before) and (final or not after.endswith("\ufffd")):
            self.prefix, self.read = self.read, len(self.ids)
            return after[len(before) :]
        return ""


_DONE = object()


def _pick_device(device: str) -> str:
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ModelError("--device cuda was given but no CUDA GPU is available; use --device cpu.")
    return "cuda" if has_cuda and device != "cpu" else "cpu"


def _load_tokenizer(path: Path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        if (path / "tokenizer.json").is_file():  # the fast class directly: AutoTokenizer costs ~1 s more
            return PreTrainedTokenizerFast.from_pretrained(str(path))
        return AutoTokenizer.from_pretrained(str(path))
    except Exception as exc:  # transformers raises many kinds here
        raise ModelError(f"Cannot load the tokenizer in {path}: {first_line(exc)}") from None


def _stop_ids(path: Path, config: dict, tokenizer) -> frozenset[int]:
    ids: set[int] = set()
    sources = [config.get("eos_token_id"), getattr(tokenizer, "eos_token_id", None)]
    try:
        sources.append(json.loads((path / "generation_config.json").read_text()).get("eos_token_id"))
    except (OSError, ValueError):
        pass
    for value in sources:
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


def _load_engine(path: Path, device: str, pad_token_id: int | None):
    import torch
    from transformers import AutoModelForCausalLM

    from tutor.backends.transformers_engine import GenerateEngine

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise in a lesson
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(device).eval()
    except Exception as exc:  # safetensors, transformers and torch each raise their own errors
        raise ModelError(f"Cannot load the model in {path}: {first_line(exc)}") from None
    return GenerateEngine(model, pad_token_id=pad_token_id)
