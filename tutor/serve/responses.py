"""One answer on the wire: an SSE stream or a JSON body, and the job's cancellation.

A stream's response headers go out with its first piece of text, so that a model failing
before it says anything is still a plain HTTP 500. A request waiting in the queue longer than
`HEARTBEAT_S` starts its stream anyway and sends SSE comments (which clients ignore) until its
turn, so that no client read timeout fires while it waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tutor.serve.worker import Event, Failed, Finished, Job, TextChunk
from tutor.serve.wire import DONE_FRAME, SSE_HEADERS, APIError, Completion, frame

HEARTBEAT_S = 10.0  # a queued stream sends a comment this often so client read timeouts don't fire


def error_response(error: APIError) -> JSONResponse:
    """An `APIError` as OpenAI answers it: its status, headers and `{"error": {...}}` body."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class ChatResponse(Response):
    """Streams (SSE) or returns (JSON) one job's answer, and cancels the job when the client goes.

    A task listens for `http.disconnect` the whole time, also while the job is still waiting
    in the queue, so a client that hangs up frees its place or the model without delay.
    """

    def __init__(self, job: Job, completion: Completion, *, stream: bool, heartbeat: float = HEARTBEAT_S) -> None:
        self.job = job
        self.completion = completion
        self.stream = stream
        self.heartbeat = heartbeat
        self.status_code = 200
        self.background = None
        self._started = False  # response headers sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.create_task(self._watch(receive))
        try:
            if self.stream:
                await self._send_stream(scope, send)
            else:
                await self._send_whole(scope, send)
        finally:
            watcher.cancel()
            self.job.cancel("disconnect")  # a no-op when the job has ended

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.job.cancel("disconnect")

    async def _send_whole(self, scope: Scope, send: Send) -> None:
        parts: list[str] = []
        while True:
            event = await self.job.events.get()
            if isinstance(event, TextChunk):
                parts.append(event.text)
            elif isinstance(event, Finished):
                body = self.completion.message("".join(parts), event.finish_reason, event.prompt_tokens, event.completion_tokens)
                await JSONResponse(body)(scope, _no_receive, send)
                return
            else:
                await error_response(event.error)(scope, _no_receive, send)
                return

    async def _send_stream(self, scope: Scope, send: Send) -> None:
        event = await self._next(send)
        if isinstance(event, Failed) and not self._started:
            await error_response(event.error)(scope, _no_receive, send)  # nothing sent yet: a plain error
            return
        await self._start(send)
        while True:
            if isinstance(event, TextChunk):
                text, event = self._coalesce(event)
                await send(_body(frame(self.completion.text_chunk(text))))
                if event is not None:
                    continue
            elif isinstance(event, Finished):
                frames = frame(self.completion.finish_chunk(event.finish_reason))
                if self.completion.include_usage:
                    frames += frame(self.completion.usage_chunk(event.prompt_tokens, event.completion_tokens))
                await send(_body(frames + DONE_FRAME, more=False))
                return
            else:
                if self.job.cancel_reason != "disconnect":
                    await send(_body(frame(event.error.body())))
                await send(_body(b"", more=False))
                return
            event = await self._next(send)

    async def _next(self, send: Send) -> Event:
        """The job's next event; while none comes, start the stream and send keep-alives."""
        while True:
            try:
                return await asyncio.wait_for(self.job.events.get(), self.heartbeat)
            except asyncio.TimeoutError:
                await self._start(send)
                await send(_body(b": waiting for the model\n\n"))

    async def _start(self, send: Send) -> None:
        if self._started:
            return
        self._started = True
        headers = [(name.encode(), value.encode()) for name, value in SSE_HEADERS.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(_body(frame(self.completion.role_chunk())))

    def _coalesce(self, event: TextChunk) -> tuple[str, Event | None]:
        """Join the texts already waiting (a slow reader gets fewer, larger frames)."""
        parts = [event.text]
        while not self.job.events.empty():
            following = self.job.events.get_nowait()
            if not isinstance(following, TextChunk):
                return "".join(parts), following
            parts.append(following.text)
        return "".join(parts), None


def _body(data: bytes, *, more: bool = True) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}
