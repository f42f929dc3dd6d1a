"""Helpers for the `tutor serve` tests: deterministic backends and a server on a free port.

    backend = gated_backend(["a", "b", "c"])     # each token waits for one backend.gate.release()
    with running_server(create_app(backend)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
"""

from __future__ import annotations

import signal
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from tutor.options import GenerationOptions, Message, Usage


class ScriptBackend:
    """Yields `chunks` for every request and reports a fixed usage, like a real backend.

    Args:
        chunks: the answer, piece by piece.
        finish_reason: what `last_usage` reports ("stop" or "length").
        prompt_tokens: what `last_usage` reports as the prompt size.
        gate: when given, every chunk first waits for one `gate.release()`.
    """

    name = "script"

    def __init__(
        self,
        chunks: Sequence[str] = ("Hello", ", ", "world", "!"),
        *,
        finish_reason: str = "stop",
        prompt_tokens: int = 11,
        gate: threading.Semaphore | None = None,
        model: str = "tutor-test",
    ) -> None:
        self.model = model
        self.chunks = list(chunks)
        self.finish_reason = finish_reason
        self.prompt_tokens = prompt_tokens
        self.gate = gate
        self.calls: list[tuple[list[Message], GenerationOptions]] = []
        self.produced = 0  # tokens made, over all requests
        self.closed_early = 0  # streams closed before their last chunk
        self._usage: Usage | None = None

    @property
    def last_usage(self) -> Usage | None:
        return self._usage

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        self.calls.append((list(messages), options))
        self._usage = None
        return self._generate(options)

    def _generate(self, options: GenerationOptions) -> Iterator[str]:
        limit = options.max_tokens or len(self.chunks)
        made = 0
        finish = None
        try:
            for chunk in self.chunks[:limit]:
                if self.gate is not None:
                    self.gate.acquire()
                made += 1
                self.produced += 1
                yield chunk
            finish = "length" if limit < len(self.chunks) else self.finish_reason
        except GeneratorExit:
            self.closed_early += 1
            raise
        finally:
            self._usage = Usage("script", self.model, self.prompt_tokens, made, finish_reason=finish)


def gated_backend(chunks: Sequence[str] = tuple(f"t{i} " for i in range(50))) -> ScriptBackend:
    return ScriptBackend(chunks, gate=threading.Semaphore(0))


@dataclass
class RunningServer:
    base_url: str  # ends in /v1, as OPENAI_BASE_URL does
    port: int
    app: Any
    server: Any

    @property
    def worker(self) -> Any:
        return self.app.state.serve.worker

    def shutdown(self) -> None:
        """What SIGTERM does, from the test thread."""
        self.server.handle_exit(signal.SIGTERM, None)


@contextmanager
def running_server(app: Any, *, grace: float = 10.0) -> Iterator[RunningServer]:
    """Serve `app` on a free loopback port in a thread, for the duration of the block."""
    from tutor.serve.server import make_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn has started
    port = sock.getsockname()[1]
    server = make_server(app, grace=grace, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"http://127.0.0.1:{port}/v1", port, app, server)
    finally:
        server.should_exit = True
        app.state.serve.worker.drain()
        app.state.serve.worker.cancel_running("shutdown")
        for gate in [getattr(app.state.serve.worker.backend, "gate", None)]:
            if gate is not None:
                gate.release(1000)  # let a blocked fake reach its next check
        thread.join(15)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down: a request handler is stuck"


class PacedBackend(ScriptBackend):
    """`count` tokens, one every `every` seconds: a stand-in for a model in another process."""

    def __init__(self, count: int, every: float) -> None:
        super().__init__([f"w{i} " for i in range(count)])
        self.every = every

    def _generate(self, options: GenerationOptions) -> Iterator[str]:
        import time

        for chunk in super()._generate(options):
            yield chunk
            time.sleep(self.every)


def main(argv: list[str]) -> None:
    """`python tests/serve_fakes.py COUNT GRACE`: serve a PacedBackend; prints the port first."""
    from tutor.serve.app import create_app
    from tutor.serve.server import run_server

    count, grace = int(argv[0]), float(argv[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(sock.getsockname()[1], flush=True)
    run_server(create_app(PacedBackend(count, every=0.01)), sock=sock, grace=grace, log_level="warning")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
