"""A loopback OpenAI-compatible server, scriptable from tests.

It speaks enough of the Chat Completions API for the real `openai` SDK: `POST
/v1/chat/completions` (streamed as SSE, or as one JSON body) and `GET /v1/models`. Tests queue
the replies they want; with nothing queued it answers with a Markdown echo of the last user
message, so a `tutor` subprocess pointed at it gets a deterministic answer.

    server.enqueue(Reply.stream(["Hel", "lo"], usage=(10, 2)))
    server.enqueue(Reply.error(429, headers={"retry-after-ms": "1"}))
    server.enqueue(Reply.stream(["a", "b", "c"], drop_after=2))      # socket closed mid-body
    server.enqueue(Reply.stream(["a", "b"], malformed_after=1))      # a frame that isn't JSON
    server.enqueue(Reply.stream(["a"], no_finish=True))              # [DONE] with no finish_reason
    server.enqueue(Reply.stream(["a", "b"], error_after=1))          # an {"error": ...} event
    server.enqueue(Reply.hostile(), Reply.hostile_error(400))        # terminal escape sequences
    reply = Reply.stream(["a", "b"], stall_after=1)                  # hold after one chunk...
    reply.stalled.wait(5); reply.release.set()                       # ...until released
    server.enqueue(Reply.stream(["a"], vllm=True))                   # frames as vLLM writes them
    server.enqueue(Reply.error(400, vllm_error(400, "too long")))    # vLLM's error body

Every request is recorded in `server.requests` (method, path, lower-cased headers, JSON body).
Run it by hand with `python tests/openai_server.py` to point a real `tutor` at it.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

MODELS = ("gpt-4o-mini", "tutor-test")

# What a hostile server (or model) may send to take over the learner's terminal. Tests send
# these in answers, error bodies and notes, and check that none reaches a terminal.
HOSTILE_SEQUENCES = {
    "clipboard": "\x1b]52;c;aGFja2Vk\x1b\\",  # OSC 52: write the clipboard ("hacked")
    "title": "\x1b]0;pwned\x07",  # OSC 0, ended by BEL: the window title
    "clear": "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "cursor_report": "\x1b[6n",  # the terminal types "ESC [ row ; col R" into our input
    "device_attributes": "\x1b[c",  # ... and "ESC [ ? 1 ; 2 c"
    "dcs": "\x1bP+q544e\x1b\\",  # DCS XTGETTCAP: another reply typed into our input
    "colour": "\x1b[8m",  # SGR "conceal": hides the text after it
    "c1_csi": "\u009b6n",  # the same query with an 8-bit CSI
    "c1_osc": "\u009d0;c1-title\u009c",  # 8-bit OSC ... ST
    "carriage_return": "safe\rFAKE",  # overwrite the start of the line
    "backspace": "ok\x08\x08no",
}
HOSTILE = "".join(HOSTILE_SEQUENCES.values())


def hostile_answer() -> str:
    """Markdown that hides every hostile sequence in prose, an inline code span and a fence
    (where Rich passes string terminators through), around words a test can look for."""
    return (
        f"# Title {HOSTILE}\n\n"
        f"Plain words {HOSTILE} end of prose.\n\n"
        f"Inline `code {HOSTILE} span` here.\n\n"
        f"```\nfenced {HOSTILE} block\n```\n\n"
        f"- a list item {HOSTILE}\n"
    )
_POLL_S = 0.02  # how often the server checks for shutdown, and a stalled reply for release


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # decoded JSON, or None for a GET


@dataclass
class Reply:
    """One scripted answer. Build it with `Reply.stream(...)` or `Reply.error(...)`.

    The events let a test follow a stalled or abandoned stream: `stalled` is set once
    `stall_after` chunks are out, setting `release` lets the rest go, and `disconnected` is set
    when the server notices that the client went away (closed the stream, was killed).
    """

    status: int = 200
    chunks: list[str] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None  # (prompt, completion); None: counted from the text
    headers: dict[str, str] = field(default_factory=dict)
    error_body: Any = None
    drop_after: int | None = None
    malformed_after: int | None = None
    error_after: int | None = None
    no_finish: bool = False
    stall_after: int | None = None
    vllm: bool = False  # frames as vLLM's server writes them (logprobs, stop_reason, no usage key)
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def stream(
        cls,
        chunks: list[str],
        *,
        finish_reason: str = "stop",
        usage: tuple[int, int] | None = None,
        drop_after: int | None = None,
        malformed_after: int | None = None,
        error_after: int | None = None,
        no_finish: bool = False,
        stall_after: int | None = None,
        headers: dict[str, str] | None = None,
        vllm: bool = False,
    ) -> Reply:
        """A successful answer made of `chunks` (sent as one body if the request isn't streamed).

        Args:
            drop_after: close the socket after this many content chunks, without [DONE].
            malformed_after: after this many content chunks, send a frame that isn't JSON.
            error_after: after this many content chunks, send an `{"error": ...}` event and end.
            no_finish: never send a finish_reason (the stream still ends with [DONE]).
            stall_after: after this many content chunks, hold the connection open until
                `release` is set (then carry on) or the server stops (then close).
            vllm: write the frames as vLLM does: `logprobs` and `stop_reason` in each choice,
                no `usage` key before the last frame, and never a `system_fingerprint`.
        """
        return cls(
            chunks=list(chunks),
            finish_reason=finish_reason,
            usage=usage,
            drop_after=drop_after,
            malformed_after=malformed_after,
            error_after=error_after,
            no_finish=no_finish,
            stall_after=stall_after,
            headers=dict(headers or {}),
            vllm=vllm,
        )

    @classmethod
    def hostile(cls) -> Reply:
        """`hostile_answer()`, streamed in chunks that split some escape sequences in two."""
        text = hostile_answer()
        return cls.stream([text[i : i + 7] for i in range(0, len(text), 7)])

    @classmethod
    def hostile_error(cls, status: int = 400) -> Reply:
        """An HTTP error whose message carries every hostile sequence."""
        body = {"error": {"message": f"Bad request {HOSTILE} end of error", "type": "invalid_request_error", "code": None}}
        return cls.error(status, body)

    @classmethod
    def error(cls, status: int, body: Any = None, *, headers: dict[str, str] | None = None) -> Reply:
        """An HTTP error. `body` defaults to OpenAI's `{"error": {...}}` shape."""
        if body is None:
            body = {"error": {"message": f"Scripted error {status}", "type": "test_error", "code": None}}
        return cls(status=status, error_body=body, headers=dict(headers or {}))


def vllm_error(status: int, message: str, *, nested: bool = True) -> dict[str, Any]:
    """An error body as vLLM's OpenAI server writes it: nested under "error" (newer releases) or
    flat with `"object": "error"` (older ones); either way `code` is the HTTP status, an int."""
    kinds = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError"}
    error = {"message": message, "type": kinds.get(status, "BadRequestError"), "param": None, "code": status}
    return {"error": error} if nested else {"object": "error", **error}


def echo_reply(body: dict[str, Any]) -> Reply:
    """The default answer: deterministic Markdown that quotes the last user message."""
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    text = f"# Answer\n\nYou asked: {users[-1] if users else ''}\n"
    return Reply.stream(re.findall(r"\s*\S+|\s+", text))


class OpenAIServer:
    """Runs the handler in a background thread on 127.0.0.1; `base_url` ends in `/v1`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each request takes the oldest one (or the echo when none is left)."""
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else echo_reply(body)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(_POLL_S,), name="openai-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled replies, stop accepting, and wait for every handler thread."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads (daemon_threads is off)
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() can join them: no thread outlives a test
    block_on_close = True
    owner: OpenAIServer


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for chunked streaming; every reply closes anyway
    timeout = 10  # socket timeout: a silent client can't pin a handler thread forever
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # --- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.record(RecordedRequest("GET", self.path, self._headers(), None))
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "tutor-tests"} for m in MODELS]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, {"error": {"message": f"No route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        owner.record(RecordedRequest("POST", self.path, self._headers(), body))
        if not self.path.rstrip("/").endswith("/chat/completions") or not isinstance(body, dict):
            self._send_json(404, {"error": {"message": f"No route {self.path}", "type": "not_found"}})
            return
        reply = owner.next_reply(body)
        try:
            if reply.status != 200:
                self._send_json(reply.status, reply.error_body, reply.headers)
            elif body.get("stream"):
                self._send_stream(reply, body)
            else:
                self._send_completion(reply, body)
        except (_ClientGone, OSError):
            reply.disconnected.set()

    # --- replies ---------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _send_completion(self, reply: Reply, body: dict[str, Any]) -> None:
        text = "".join(reply.chunks)
        prompt, completion = _usage(reply, body)
        self._send_json(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", MODELS[0]),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": _usage_json(prompt, completion),
            },
            reply.headers,
        )

    def _send_stream(self, reply: Reply, body: dict[str, Any]) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

        model = body.get("model", MODELS[0])
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
            if reply.vllm:
                choice.update(logprobs=None, stop_reason=None)
            frame: dict[str, Any] = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [choice],
            }
            if include_usage and not reply.vllm:
                frame["usage"] = None
            return frame

        self._event(chunk({"role": "assistant", "content": ""}))
        for sent in range(len(reply.chunks) + 1):  # the checks also run after the last chunk
            if sent == reply.drop_after:
                return  # no terminating chunk: the client sees the body cut short
            if sent == reply.malformed_after:
                self._frame(b"data: {this is not json\n\n")
                self._frame(b"")
                return
            if sent == reply.error_after:
                self._event({"error": {"message": "The server had an error mid-stream", "type": "server_error"}})
                self._frame(b"")
                return
            if sent == reply.stall_after and not self._stall(reply):
                return
            if sent < len(reply.chunks):
                self._event(chunk({"content": reply.chunks[sent]}))
        if not reply.no_finish:
            self._event(chunk({}, reply.finish_reason))
        if include_usage:
            prompt, completion = _usage(reply, body)
            last = chunk({})
            last.update(choices=[], usage=_usage_json(prompt, completion))
            self._event(last)
        self._frame(b"data: [DONE]\n\n")
        self._frame(b"")  # the zero-length chunk that ends a chunked body

    def _stall(self, reply: Reply) -> bool:
        """Hold the connection open. True to carry on (released), False to give up."""
        reply.stalled.set()
        owner = self.server.owner
        while not reply.release.is_set():
            if owner.stopping.is_set():
                return False
            if self._client_gone():
                reply.disconnected.set()
                return False
            reply.release.wait(_POLL_S)
        return True

    def _client_gone(self) -> bool:
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _event(self, payload: dict[str, Any]) -> None:
        self._frame(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _frame(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}


def _usage_json(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _usage(reply: Reply, body: dict[str, Any]) -> tuple[int, int]:
    if reply.usage is not None:
        return reply.usage
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return prompt, len(reply.chunks)


if __name__ == "__main__":
    with OpenAIServer() as server:
        print(f"OPENAI_BASE_URL={server.base_url}  (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
