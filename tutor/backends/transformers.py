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
from tutor.backends.base import LOCAL_DEFAULTS, UsageMeter, with_defaults
from tutor.config import DEVICES
from tutor.errors import BackendError, ContextOverflow, UsageError
from tutor.gpt.detokenize import IncrementalDecoder
from tutor.models.progress import LoadProgress
from tutor.models.store import resolve
from tutor.options import GenerationOptions, Message, Usage

POLL_SECONDS = 0.1  # how often the consumer checks that the worker is still alive


class TransformersBackend:
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
        from tutor.backends.transformers_engine import GenerateEngine
        from tutor.gpt.device import choose_device
        from tutor.models.transformers_load import load_folder

        device = choose_device(self.device)
        path = resolve(self.model, progress=self.progress).path
        loaded = load_folder(path, device=device, fast_tokenizer=True)
        self._tokenizer = loaded.tokenizer
        self._stop_ids = _stop_ids(path, loaded.config, loaded.tokenizer)
        self._engine = GenerateEngine(loaded.model, pad_token_id=getattr(loaded.tokenizer, "pad_token_id", None))

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
        from tutor.backends.transformers_engine import SamplingSettings

        options = with_defaults(options, LOCAL_DEFAULTS)
        full = prompt = self.prompt_ids(messages)
        wanted = options.max_tokens
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
        settings = SamplingSettings(
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            repetition_penalty=options.repetition_penalty,
            max_new_tokens=min(wanted, room),
            seed=options.seed,
            stop_ids=self._stop_ids,
            penalised_ids=self._earlier_answer_ids(messages),
        )
        notice = f"the first {cut} prompt tokens did not fit the model's {context}-token context" if cut else None
        return self._stream(prompt, settings, notice)

    def _earlier_answer_ids(self, messages: Sequence[Message]) -> frozenset[int]:
        """The tokens of the conversation's earlier answers, which the repetition penalty covers
        besides the new answer's own (see `transformers_engine.GenerateEngine`)."""
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
        scanner = None if self.uses_chat_template else transcript.stop_scanner()
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


_DONE = object()


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
