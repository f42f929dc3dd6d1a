"""GGUF models on llama.cpp, in this process, through the `xllamacpp` wheel.

xllamacpp embeds llama.cpp's own server: we hand it OpenAI-style chat requests and it calls
back once per streamed chunk, from a worker thread we start. The callback's return value
cancels the request, so closing the iterator (or Ctrl-C) stops generation at the next chunk.
`return_progress` makes prompt processing report every batch too, so a long prompt can be
cancelled mid-way rather than only once the first token exists.

The model's chat template comes from the GGUF (llama.cpp applies it), and llama.cpp keeps
the last conversation's tokens in its slot, so a revision re-reads only what is new.

Across processes, `prefix_cache` keeps the first answer's tokens in a file, so the next
`tutor explain` reads only what differs (`llama_server.PrefixSlot`). Starting llama.cpp, and
why its loopback listener is locked, is `llama_server.py`.
"""

from __future__ import annotations

import atexit
import queue
import secrets
import threading
from pathlib import Path
from typing import Iterator, Sequence

from tutor.backends.base import LOCAL_DEFAULTS, UsageMeter, with_defaults
from tutor.backends.llama_server import PrefixSlot, default_threads, env_int, start_server
from tutor.config import DEVICES
from tutor.errors import BackendError, ContextOverflow, UsageError
from tutor.options import GenerationOptions, Message, Usage

POLL_SECONDS = 0.05  # how often the consumer checks that the worker is still alive
THREADS_ENV = "TUTOR_LOCAL_THREADS"
CONTEXT_ENV = "TUTOR_LOCAL_CONTEXT"
DEFAULT_CONTEXT = 8192  # room for notes plus a few revisions; the KV cache of a 1.5B model is ~230 MB
DRY = dict(dry_multiplier=0.8, dry_base=1.75, dry_allowed_length=3)  # over the whole context: see _request
_DONE = object()


class LlamaBackend:
    """Answer with a GGUF model on llama.cpp.

    Args:
        path: the GGUF file.
        model: the name the learner knows it by (`qwen-1.5b`, a repo, a path).
        device: "auto" (a GPU when llama.cpp has one), "cpu" or "cuda".
        threads: decode threads; None reads `TUTOR_LOCAL_THREADS`, else picks by core count.
        context: tokens of context; None reads `TUTOR_LOCAL_CONTEXT`, else 8192.
        parallel: requests served at once (each slot gets `context` tokens).
        fit_context: leave out a long conversation's earliest turns to fit the context (a
            lesson); False refuses it with `ContextOverflow` instead (a server's client decides).
        prefix_cache: a folder for the saved first answer that later processes start from;
            None keeps nothing (only one slot is ever saved or restored).
    """

    name = "local"

    def __init__(
        self,
        *,
        path: Path,
        model: str,
        device: str = "auto",
        threads: int | None = None,
        context: int | None = None,
        parallel: int = 1,
        fit_context: bool = True,
        prefix_cache: Path | None = None,
    ) -> None:
        if device not in DEVICES:
            raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
        self.path = Path(path)
        self.model = model
        self.device = device
        self.threads = threads if threads is not None else env_int(THREADS_ENV, default_threads())
        self.context = context if context is not None else env_int(CONTEXT_ENV, DEFAULT_CONTEXT)
        self.parallel = parallel
        self.fit_context = fit_context
        self.prefix_cache = prefix_cache if parallel == 1 else None
        self._prefix = (
            None if self.prefix_cache is None else PrefixSlot(self.prefix_cache, model_path=self.path, context=self.context)
        )
        self._prefix_saved = False
        self._key = secrets.token_urlsafe(32)
        self._server = None
        self._usage = threading.local()  # per consuming thread: `tutor serve` streams from several
        self._load_lock = threading.Lock()
        self._active: dict[threading.Thread, threading.Event] = {}  # requests still inside llama.cpp

    @property
    def last_usage(self) -> Usage | None:
        """The usage of the last answer streamed by the calling thread."""
        return getattr(self._usage, "value", None)

    def load(self) -> None:
        """Start llama.cpp on the model. Does nothing when already loaded.

        Raises:
            ModelError: the file is not a usable GGUF, or CUDA was asked for without a CUDA build.
        """
        with self._load_lock:
            if self._server is None:
                self._server = start_server(
                    self.path, device=self.device, threads=self.threads, context=self.context,
                    parallel=self.parallel, key=self._key, prefix_cache=self.prefix_cache,
                )
                # A worker still inside llama.cpp when Python tears threads down aborts the
                # process ("exception not rethrown"): cancel and join them first.
                atexit.register(self.close)
                if self._prefix is not None:
                    self._prefix.restore(self._server, self._key)

    def close(self) -> None:
        """Cancel what is running, then stop llama.cpp and free the model (also done at exit)."""
        for worker, stop in list(self._active.items()):
            stop.set()
            worker.join()
        self._server = None

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        """Yield the answer in chunks; closing the iterator cancels the request at the next chunk.

        A conversation longer than the context loses its earliest turns (never the system
        prompt or the newest request); `last_usage.notice` says how many.
        """
        self.load()
        return self._stream(list(messages), options)

    def _request(self, messages: list[Message], options: GenerationOptions) -> dict:
        options = with_defaults(options, LOCAL_DEFAULTS)
        request = {
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "return_progress": True,
            "cache_prompt": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "repeat_penalty": options.repetition_penalty,
        }
        if options.top_k is not None:
            request["top_k"] = options.top_k
        if options.seed is not None:
            request["seed"] = options.seed
        schema = options.json_schema
        if schema is not None:  # grammar-constrained: the reply can only be JSON of this shape
            request["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
        elif any(m["role"] == "assistant" for m in messages):
            # A revision. Greedy revisions of the 1.5B model copied the last answer nearly word
            # for word ("much shorter" was followed 0-25% of the time on the tuning topics).
            # DRY penalises extending any run of tokens already in the context, so the model
            # writes the explanation again instead of repeating it (BENCHMARKS.md, "Feedback
            # compliance"). Not for JSON replies: a grader must quote the learner verbatim.
            request.update(DRY, dry_penalty_last_n=self.context)
        return request

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        meter = UsageMeter(self.name, self.model)
        meter.start()
        dropped = 0
        context = self.context
        shown: list[str] = []
        state: dict = {}
        try:
            while True:
                state = {"chunks": 0, "finish": None, "usage": None, "timings": None}
                items: queue.Queue = queue.Queue()
                stop = threading.Event()
                worker = self._start_worker(self._request(messages, options), items, stop, state)
                try:
                    overflow = None
                    for item in _drain(items, worker):
                        if isinstance(item, _Overflow):
                            overflow = item
                            break
                        meter.chunk()
                        shown.append(item)
                        yield item
                finally:
                    stop.set()  # the worker's next callback cancels the request in llama.cpp
                if overflow is None:
                    break
                messages, cut = _drop_earliest_turn(messages) if self.fit_context else (messages, 0)
                if not cut:
                    raise ContextOverflow(
                        f"The request needs {overflow.prompt_tokens} tokens but the model's context "
                        f"holds {overflow.context}: use fewer or shorter notes, a larger {CONTEXT_ENV}, or a model with "
                        "a longer context.",
                        partial="",
                    )
                dropped += cut
                context = overflow.context or context
        except _Failure as failure:
            raise BackendError(f"llama.cpp failed: {failure}", partial="".join(shown)) from None
        finally:
            usage = state.get("usage") or {}
            timings = state.get("timings") or {}
            usage_now = meter.finish(
                prompt_tokens=usage.get("prompt_tokens"),
                # Interrupted answers have no usage frame: llama.cpp streams one chunk per token.
                completion_tokens=usage.get("completion_tokens", state.get("chunks")),
                finish_reason=state.get("finish"),
            )
            usage_now.prompt_tokens_read = timings.get("prompt_n")
            self._usage.value = usage_now
            if self._prefix is not None and not self._prefix_saved and state.get("finish") in ("stop", "length"):
                self._prefix_saved = self._prefix.save(self._server, self._key)  # each process's first whole answer
            if dropped:
                usage_now.notice = (
                    f"the {dropped} earliest message{'s' if dropped != 1 else ''} did not fit the "
                    f"model's {context}-token context and were left out"
                )

    def _start_worker(self, request: dict, items: queue.Queue, stop: threading.Event, state: dict):
        server = self._server

        def on_chunk(data: dict) -> bool:
            if "error" in data or "code" in data:
                items.put(_error_item(data))
                return True
            for choice in data.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    state["chunks"] += 1
                    items.put(text)
                if choice.get("finish_reason"):
                    state["finish"] = choice["finish_reason"]
            if data.get("usage"):
                state["usage"] = data["usage"]
                state["timings"] = data.get("timings")
            return stop.is_set()

        def work() -> None:
            try:
                server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
                items.put(_Failure(str(exc) or type(exc).__name__))
            finally:
                self._active.pop(threading.current_thread(), None)
                items.put(_DONE)

        # Not joined when the consumer stops early: Ctrl-C returns at once, and llama.cpp drops
        # the request at its next chunk (one token, or one prompt batch) in the background.
        worker = threading.Thread(target=work, name="tutor-llama-generate", daemon=True)
        self._active[worker] = stop
        worker.start()
        return worker


class _Failure(Exception):
    pass


class _Overflow:
    def __init__(self, prompt_tokens: int | None, context: int | None) -> None:
        self.prompt_tokens = prompt_tokens
        self.context = context


def _error_item(data: dict):
    error = data.get("error") if isinstance(data.get("error"), dict) else data
    if error.get("type") == "exceed_context_size_error":
        return _Overflow(error.get("n_prompt_tokens"), error.get("n_ctx"))
    return _Failure(str(error.get("message") or error))


def _drain(items: queue.Queue, worker: threading.Thread) -> Iterator:
    """Text chunks (and an overflow marker) from the worker until it is done."""
    while True:
        try:
            item = items.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not worker.is_alive() and items.empty():
                raise _Failure("the model stopped without finishing") from None
            continue
        if item is _DONE:
            return
        if isinstance(item, _Failure):
            raise item
        yield item


def _drop_earliest_turn(messages: list[Message]) -> tuple[list[Message], int]:
    """Leave out the earliest non-system messages up to the next user turn, keeping the newest request."""
    head = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(head) :]
    if len(rest) <= 1:
        return messages, 0
    cut = 1
    while cut < len(rest) - 1 and rest[cut]["role"] != "user":
        cut += 1
    return head + rest[cut:], cut


