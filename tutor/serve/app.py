"""The ASGI app behind `tutor serve`: OpenAI's Chat Completions API over one backend.

Endpoints: `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions` (streamed as
SSE or answered as one JSON body) and `GET /health`. Every failure is answered in OpenAI's
shape, `{"error": {"message", "type", "param", "code"}}`, and as early as possible: a bad key
(401), an oversized body (413, checked while reading, before any parsing), bad JSON or fields
(400) and a full queue (503 with `retry-after`) are all refused before a response starts.
Any model name is accepted, since one model is served (clients default to names such as
`gpt-4o-mini`); answers report the real one. `/health` needs no key, as for vLLM and llama.cpp's
server, so load balancers can probe it. See `tutor.serve.worker` for how requests share the model.

How one answer is sent (and cancelled when its client leaves) is in `tutor.serve.responses`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tutor.backends.base import Backend
from tutor.serve.worker import Job, ModelWorker
from tutor.serve.responses import HEARTBEAT_S, ChatResponse, error_response
from tutor.serve.schema import parse_chat_request
from tutor.serve.wire import APIError, Completion, model_card

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a long conversation is a few hundred KiB at most


@dataclass
class ServeState:
    """What the routes share; `app.state.serve` in a running app.

    Args:
        worker: runs the model; tests wait on it (`wait_idle`) and read `current`.
        model: the one model id this server answers to.
        api_key: when set, every request needs `Authorization: Bearer <api_key>`.
        max_body_bytes: larger request bodies are refused with 413.
        clock: wall-clock seconds for `created` fields.
        heartbeat: seconds between keep-alive comments to a stream still waiting for the model.
    """

    worker: ModelWorker
    model: str
    api_key: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    clock: Callable[[], float] = time.time
    heartbeat: float = HEARTBEAT_S
    started: int = field(init=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.started = int(self.clock())

    def shutdown(self, grace: float) -> None:
        """Begin a graceful shutdown; safe to call from a signal handler or any thread.

        Waiting requests are answered 503 at once; the running one has `grace` seconds to
        finish, then its stream ends with an error frame saying the server is shutting down.
        """
        if self.loop is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self._drain, grace)

    def _drain(self, grace: float) -> None:
        self.worker.drain()
        assert self.loop is not None
        self.loop.call_later(grace, self.worker.cancel_running, "shutdown")


def create_app(
    backend: Backend,
    *,
    model: str | None = None,
    api_key: str | None = None,
    max_queued: int = 8,
    workers: int = 1,
    max_body_bytes: int = MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
    heartbeat: float = HEARTBEAT_S,
) -> Starlette:
    """An app serving `backend`, which must already be loaded.

    Args:
        backend: answers every request, `workers` at a time.
        model: the model id answers report; `backend.model` when None.
        api_key: require this bearer token on every request; None means no auth.
        max_queued: requests that may wait while the workers generate; more get 503.
        workers: requests generating at once (llama.cpp slots; 1 for a model folder).
        max_body_bytes: the largest request body accepted.
        clock: wall-clock seconds for `created` fields.
        heartbeat: seconds between keep-alive comments to a stream still waiting for the model.
    """
    state = ServeState(
        worker=ModelWorker(backend, max_queued=max_queued, workers=workers),
        model=model or backend.model,
        api_key=api_key or None,
        max_body_bytes=max_body_bytes,
        clock=clock,
        heartbeat=heartbeat,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        state.worker.start()
        try:
            yield
        finally:
            await asyncio.to_thread(state.worker.stop)

    routes = [
        Route("/v1/chat/completions", _chat_completions, methods=["POST"]),
        Route("/v1/models", _list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", _get_model, methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
    ]
    handlers: dict[Any, Callable[..., Any]] = {APIError: _api_error, HTTPException: _http_error, Exception: _crash}
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_RequireKey, key=state.api_key)],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.serve = state
    return app


# --- routes ----------------------------------------------------------------------------------


async def _chat_completions(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    body = await _read_json(request, state.max_body_bytes)
    try:
        chat = parse_chat_request(body)
    except RecursionError:
        raise APIError(400, "The JSON body is nested too deeply. Send a flat chat request.") from None
    job = Job(chat.messages, chat.options, chat.stops, loop=asyncio.get_running_loop())
    state.worker.submit(job)  # 503 + retry-after when full, before any response starts
    completion = Completion(model=state.model, created=int(state.clock()), include_usage=chat.include_usage)
    return ChatResponse(job, completion, stream=chat.stream, heartbeat=state.heartbeat)


async def _list_models(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    return JSONResponse({"object": "list", "data": [model_card(state.model, state.started)]})


async def _get_model(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    name = request.path_params["model"]
    if name != state.model:
        raise APIError(404, f"The model '{name}' does not exist on this server.", param="model", code="model_not_found")
    return JSONResponse(model_card(state.model, state.started))


async def _health(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    worker = state.worker
    return JSONResponse(
        {
            "status": "draining" if worker.draining else "ok",
            "model": state.model,
            "busy": bool(worker.running),
            "running": len(worker.running),
            "workers": worker.workers,
            "queued": worker.queued,
            "max_queued": worker.max_queued,
        }
    )


async def _read_json(request: Request, limit: int) -> Any:
    too_large = APIError(
        413,
        f"The request body is larger than this server accepts ({limit // 1024} KiB). Send a shorter conversation.",
        code="request_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large
    try:
        return json.loads(body)
    except RecursionError:  # JSON nested thousands deep: refuse it, don't crash a worker
        raise APIError(400, "The JSON body is nested too deeply. Send a flat chat request.") from None
    except ValueError:
        raise APIError(
            400,
            "We could not parse the JSON body of your request. The API expects a JSON object "
            "(Content-Type: application/json).",
        ) from None


# --- auth and errors -------------------------------------------------------------------------


class _RequireKey:
    """Refuses any request without `Authorization: Bearer <key>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app = app
        self.key = key.encode() if key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.key is not None and scope["path"] != "/health":
            error = self._check(dict(scope["headers"]).get(b"authorization"))
            if error is not None:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _check(self, header: bytes | None) -> APIError | None:
        assert self.key is not None
        scheme, _, token = (header or b"").strip().partition(b" ")
        if header is None or scheme.lower() != b"bearer":
            return APIError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' "
                "(the key given to tutor serve --api-key or TUTOR_SERVE_API_KEY).",
                headers={"www-authenticate": "Bearer"},
            )
        if not hmac.compare_digest(token.strip(), self.key):
            return APIError(
                401,
                "Incorrect API key provided. Use the key given to tutor serve --api-key or TUTOR_SERVE_API_KEY.",
                code="invalid_api_key",
                headers={"www-authenticate": "Bearer"},
            )
        return None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = (
            f"Unknown path {request.url.path}: this server answers /v1/chat/completions, /v1/models and "
            "/health (does the base URL end in /v1?)."
        )
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return error_response(APIError(exc.status_code, message, headers=dict(exc.headers or {})))


async def _crash(request: Request, exc: Exception) -> Response:
    return error_response(APIError(500, "The server failed; see its log.", type="server_error"))
