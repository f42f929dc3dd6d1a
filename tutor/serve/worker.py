"""Model workers behind a bounded queue: admission, cancellation and draining.

The policy, as a client sees it:

* `workers` requests generate at once: one for a model folder (transformers holds one KV
  cache), one per llama.cpp slot for a GGUF model, whose continuous batching decodes them
  together. Worker threads take the jobs in arrival order; the event loop only moves bytes
  and stays responsive (health checks, new connections, disconnects) while a model computes.
* Up to `max_queued` more requests wait their turn. A request that finds the queue full is
  refused at once with 503 and `retry-after` (our estimate of when the running job ends: the
  recent average job time, 1 to 60 s). An accepted request is never dropped later, except at
  shutdown.
* A client that goes away cancels its job: a waiting job leaves the queue at once, a running
  one stops at the backend's next token. The worker then closes the backend's iterator (which
  stops generation) and takes the next job.
* `drain()` (shutdown) refuses new requests and answers the waiting ones 503; the running one
  may finish until `cancel_running("shutdown")`, after which its stream ends with an error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

from tutor.backends.base import Backend

from tutor.errors import ContextOverflow, TutorError
from tutor.options import GenerationOptions, Message
from tutor.serve.wire import APIError
from tutor.stops import StopScanner

log = logging.getLogger("tutor.serve")

DEFAULT_JOB_S = 5.0  # retry-after guess before any job has finished
SHUTTING_DOWN = "The server is shutting down. Try again once it is back."


@dataclass(frozen=True)
class TextChunk:
    """A piece of the answer, already cut at stop strings."""

    text: str


@dataclass(frozen=True)
class Finished:
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Failed:
    error: APIError


Event = TextChunk | Finished | Failed


class Job:
    """One request's generation. The worker thread fills `events`; the event loop reads them.

    Args:
        messages, options: what the backend is asked.
        stops: stop strings; the answer ends before the first one.
        loop: the event loop that owns `events`.
    """

    def __init__(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        stops: Sequence[str] = (),
        *,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.messages = list(messages)
        self.options = options
        self.stops = tuple(stops)
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.cancel_reason: str | None = None
        self.cancelled = threading.Event()  # set from the loop, read by the worker between tokens
        self._loop = loop
        self._finished = False
        self._on_cancel: Callable[[Job], None] | None = None

    def cancel(self, reason: str) -> None:
        """Stop this job: "disconnect" (nobody is listening) or "shutdown" (tell the client)."""
        if self._finished or self.cancelled.is_set():
            return
        self.cancel_reason = reason
        self.cancelled.set()
        if self._on_cancel is not None:
            self._on_cancel(self)

    def emit(self, event: Event) -> None:
        """Hand an event to the loop; safe from any thread, and after the loop has closed."""
        if not isinstance(event, TextChunk):
            self._finished = True
        try:
            self._loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is closed: the server is gone, nobody is listening
            pass


class ModelWorker:
    """Runs up to `workers` jobs at once on its own threads, with at most `max_queued` waiting.

    Args:
        backend: any `Backend`; called only from the worker threads, by several at once only
            when `workers` > 1 (llama.cpp's slots).
        max_queued: how many requests may wait while the workers generate.
        workers: jobs that generate at the same time.
        clock: for the job times behind `retry-after`.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_queued: int = 8,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_queued < 0:
            raise ValueError("max_queued must be 0 or more")
        if workers < 1:
            raise ValueError("workers must be 1 or more")
        self.backend = backend
        self.max_queued = max_queued
        self.workers = workers
        self.running: list[Job] = []
        self._clock = clock
        self._waiting: deque[Job] = deque()
        self._changed = threading.Condition()
        self._draining = False
        self._stopping = False
        self._average_s = DEFAULT_JOB_S
        self._threads: list[threading.Thread] = []

    @property
    def current(self) -> Job | None:
        """The longest-running job, or None when all workers are idle."""
        running = self.running
        return running[0] if running else None

    # --- the event loop's side -------------------------------------------------------------

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"tutor-model-worker-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, job: Job) -> None:
        """Queue `job`, or refuse it at once.

        Raises:
            APIError: 503 with `retry-after` when the queue is full or the server is draining.
        """
        with self._changed:
            if self._draining:
                raise APIError(503, SHUTTING_DOWN, type="server_error", code="shutting_down")
            admitted = len(self._waiting) + len(self.running)
            if admitted >= self.workers + self.max_queued:
                wait = min(max(math.ceil(self._average_s), 1), 60)
                raise APIError(
                    503,
                    f"The server is busy: {len(self.running)} requests are generating and "
                    f"{len(self._waiting)} are waiting. Retry in {wait}s.",
                    type="server_error",
                    code="server_overloaded",
                    headers={"retry-after": str(wait)},
                )
            job._on_cancel = self._withdraw
            self._waiting.append(job)
            self._changed.notify_all()

    @property
    def queued(self) -> int:
        return len(self._waiting)

    @property
    def draining(self) -> bool:
        return self._draining

    def drain(self) -> None:
        """Refuse new jobs and answer the waiting ones 503; the running job goes on."""
        with self._changed:
            self._draining = True
            waiting, self._waiting = list(self._waiting), deque()
            self._changed.notify_all()
        for job in waiting:
            job.emit(Failed(APIError(503, SHUTTING_DOWN, type="server_error", code="shutting_down")))

    def cancel_running(self, reason: str) -> None:
        for job in list(self.running):
            job.cancel(reason)

    def stop(self, timeout: float = 5.0) -> None:
        """Drain, cancel the running jobs and end the threads (waiting up to `timeout` seconds)."""
        self.drain()
        self.cancel_running("shutdown")
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds after some job changed state; False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def wait_idle(self, timeout: float) -> bool:
        return self.wait_until(lambda: not self.running and not self._waiting, timeout)

    def _withdraw(self, job: Job) -> None:
        """A job was cancelled: if it is still waiting, it leaves the queue and ends now."""
        with self._changed:
            waiting = job in self._waiting
            if waiting:
                self._waiting.remove(job)
            self._changed.notify_all()
        if waiting:
            job.emit(_cancelled(job))

    # --- the worker thread -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._stopping)
                if self._stopping:
                    return
                job = self._waiting.popleft()
                self.running.append(job)
                self._changed.notify_all()  # a job started: waiters on `current` see it
            started = self._clock()
            try:
                job.emit(self._generate(job))
            except BaseException:  # noqa: BLE001 - the worker must outlive any job
                log.exception("generation failed")
                job.emit(Failed(APIError(500, "The model failed; see the server log.", type="server_error")))
            with self._changed:
                # with several workers, jobs end that often: the wait for a free one is shorter
                self._average_s = 0.7 * self._average_s + 0.3 * (self._clock() - started) / self.workers
                self.running.remove(job)
                self._changed.notify_all()

    def _generate(self, job: Job) -> Event:
        """Stream the backend's answer into `job`; returns the event that ends it."""
        scanner = StopScanner(job.stops)
        chunks = 0
        stream = None
        if job.cancelled.is_set():  # cancelled between leaving the queue and starting
            return _cancelled(job)
        try:
            stream = self.backend.stream(job.messages, job.options)
            for chunk in stream:
                chunks += 1
                if job.cancelled.is_set():
                    break
                text = scanner.feed(chunk)
                if text:
                    job.emit(TextChunk(text))
                if scanner.stopped:
                    break
            else:
                tail = scanner.flush()
                if tail:
                    job.emit(TextChunk(tail))
        except ContextOverflow as exc:
            return Failed(APIError(400, str(exc), param="messages", code="context_length_exceeded"))
        except TutorError as exc:
            return Failed(APIError(500, f"The model failed: {exc}", type="server_error"))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()  # stops generation when we broke out early
                except Exception:  # noqa: BLE001 - the answer is over either way
                    log.exception("closing the backend stream failed")
        if job.cancelled.is_set():
            return _cancelled(job)
        usage = self.backend.last_usage
        reason = usage.finish_reason if usage is not None else None
        finish = "stop" if scanner.stopped or reason not in ("stop", "length") else reason
        prompt = usage.prompt_tokens if usage is not None and usage.prompt_tokens is not None else 0
        completion = usage.completion_tokens if usage is not None and usage.completion_tokens is not None else chunks
        return Finished(finish, prompt, completion)


def _cancelled(job: Job) -> Failed:
    if job.cancel_reason == "shutdown":
        return Failed(APIError(503, SHUTTING_DOWN, type="server_error", code="shutting_down"))
    return Failed(APIError(499, "The client closed the request.", code="client_closed_request"))
