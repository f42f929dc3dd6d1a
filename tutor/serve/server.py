"""Run the app under uvicorn, with a shutdown that ends every stream properly.

On SIGTERM or Ctrl-C, uvicorn stops accepting connections and waits for the open ones; we
also tell the app (`ServeState.shutdown`), which answers the waiting requests 503 and gives
the generating one `grace` seconds before ending its stream with an error frame. A second
Ctrl-C quits at once, as in uvicorn.
"""

from __future__ import annotations

import socket
from types import FrameType
from typing import Any

BACKSTOP_S = 5.0  # after the grace period, how long uvicorn waits for the last bytes to go out


def make_server(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    grace: float = 10.0,
    log_level: str = "info",
) -> Any:
    """A `uvicorn.Server` for `app` (from `create_app`) whose shutdown drains the app first.

    Args:
        host, port: where to listen (unless `run` is given sockets).
        grace: seconds a stream in flight may keep generating after a shutdown signal.
        log_level: uvicorn's log level.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if not self.should_exit:
                app.state.serve.shutdown(grace)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=grace + BACKSTOP_S,
        http="h11",  # pure Python and always installed; HTTP parsing is not the bottleneck here
        ws="none",
    )
    return Server(config)


def run_server(app: Any, *, sock: socket.socket | None = None, **options: Any) -> None:
    """Serve `app` until SIGTERM or Ctrl-C; blocks. `options` are `make_server`'s."""
    make_server(app, **options).run(sockets=[sock] if sock is not None else None)
