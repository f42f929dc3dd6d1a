"""`tutor serve`: the local model behind an OpenAI-compatible HTTP API. Registered by `tutor.cli.app`.

starlette, uvicorn, torch and transformers are imported inside the command, so `tutor --help`
stays instant and `tutor` works without the `serve` extra installed.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from tutor.cli.choices import DeviceChoice
from tutor.cli.console import stderr_console
from tutor.errors import ConfigError, UsageError

# llama.cpp slots of `tutor serve`: 4 clients got 2.6x the tokens/s of 1 on the 2-core machine
# (BENCHMARKS.md, "Serving several learners").
DEFAULT_PARALLEL = 4
_PANEL_MODEL = "Model"
_PANEL_SERVER = "Server"


def serve(
    model: Annotated[
        Optional[str],
        typer.Option(
            help="qwen-1.5b, qwen-0.5b, smollm2, a pulled model, a .gguf file, a model folder or a model from tutor train (default: TUTOR_LOCAL_MODEL or qwen-1.5b).",
            show_default=False,
            rich_help_panel=_PANEL_MODEL,
        ),
    ] = None,
    device: Annotated[Optional[DeviceChoice], typer.Option(help="Where the model runs.", rich_help_panel=_PANEL_MODEL)] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; loopback keeps it to this machine.", rich_help_panel=_PANEL_SERVER)] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.", rich_help_panel=_PANEL_SERVER)] = 8000,
    api_key: Annotated[
        Optional[str],
        typer.Option(
            envvar="TUTOR_SERVE_API_KEY",
            show_default=False,
            help="Require 'Authorization: Bearer KEY' on every request.",
            rich_help_panel=_PANEL_SERVER,
        ),
    ] = None,
    parallel: Annotated[
        Optional[int],
        typer.Option(
            help=f"Requests a GGUF model answers at once (llama.cpp slots; default {DEFAULT_PARALLEL}). A model folder answers one.",
            show_default=False,
            rich_help_panel=_PANEL_SERVER,
        ),
    ] = None,
    queue: Annotated[int, typer.Option(help="Requests that may wait while the model is busy; more get 503.", rich_help_panel=_PANEL_SERVER)] = 8,
    grace: Annotated[
        float, typer.Option(help="Seconds a running answer may finish after Ctrl-C or SIGTERM.", rich_help_panel=_PANEL_SERVER)
    ] = 10.0,
) -> None:
    """Serve the local model over OpenAI's Chat Completions API (/v1/chat/completions)."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    if queue < 0 or grace < 0:
        raise UsageError("--queue and --grace must be 0 or more")
    if parallel is not None and not 1 <= parallel <= 64:
        raise UsageError(f"--parallel must be between 1 and 64, got {parallel}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("tutor serve needs starlette and uvicorn: run  pip install 'tutor[serve]'") from None

    from tutor.backends.select import local_backend
    from tutor.config import load_settings
    from tutor.serve.app import create_app
    from tutor.display import print_notice
    from tutor.serve.server import run_server

    err = stderr_console()
    settings = load_settings({"backend": "local", "model": model, "device": device.value if device else None})
    sock = _bind(host, port)  # before the slow model load: a busy port fails at once
    try:
        from tutor.cli.progress import RichLoadProgress

        with RichLoadProgress(console=err) as progress:
            # A server's client decides what to drop from a conversation too long for the context.
            backend = local_backend(settings, progress, parallel=parallel or DEFAULT_PARALLEL, fit_context=False)
        model_id = _model_id(settings.local_model)
        workers = getattr(backend, "parallel", 1)  # a model folder on transformers answers one at a time
        app = create_app(backend, model=model_id, api_key=api_key, max_queued=queue, workers=workers)
        bound_port = sock.getsockname()[1]
        url = f"http://{_url_host(host)}:{bound_port}/v1"
        if not api_key and not _is_loopback(host):
            print_notice(err, f"listening on {host} without --api-key: anyone who can reach this port can use the model")
        err.print(f"Serving [bold]{escape(model_id)}[/] on [bold]{escape(url)}[/]", highlight=False)
        key_hint = " OPENAI_API_KEY=<key>" if api_key else ""
        err.print(
            f"[dim]Try: OPENAI_BASE_URL={escape(url)} TUTOR_MODEL={escape(model_id)}{key_hint} "
            "tutor explain 'Recursion' --backend openai[/]",
            highlight=False,
            soft_wrap=True,
        )
        try:
            run_server(app, sock=sock, grace=grace)
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on: that was the plan
            err.print("[dim]stopped[/]")
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {host}: {exc.strerror or exc}. Check --host.") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.") from None
    return sock


def _model_id(model: str) -> str:
    """The id answers report: `qwen-1.5b`, or a folder's or file's name rather than its whole path."""
    return Path(model.rstrip("/\\")).name or model


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
