"""Build the backend a command asked for from the effective settings."""

from __future__ import annotations

from typing import Callable

from tutor.backends.base import Backend
from tutor.config import BACKENDS, Settings, first_backend, key_redirect_notice
from tutor.errors import ConfigError

# Placeholder for OpenAI-compatible servers that need no key (Ollama, a local vLLM):
# the SDK refuses to start without one.
NO_KEY_NEEDED = "no-key-needed"


def openai_backend(settings: Settings) -> Backend:
    key = settings.api_key
    if not key:
        if not settings.base_url:
            raise ConfigError(
                "OPENAI_API_KEY is not set: run  export OPENAI_API_KEY=sk-...  or add it to .env "
                "(or use --backend local for the offline model)"
            )
        key = NO_KEY_NEEDED
    from tutor.backends.openai import OpenAIBackend

    return OpenAIBackend(model=settings.openai_model, api_key=key, base_url=settings.base_url)


def local_backend(
    settings: Settings, progress: object | None = None, *, parallel: int = 1, fit_context: bool = True
) -> Backend:
    """A GGUF model on llama.cpp, or a model folder on transformers, loaded and ready.

    Args:
        parallel: requests a GGUF model serves at once (`tutor serve`); a folder serves one.
        fit_context: leave out what does not fit the context (a lesson), or refuse (a server).
    """
    from tutor.models.resolve import resolve_local

    model = resolve_local(settings.local_model, progress=progress)
    if model.is_gguf:
        from tutor.backends.llama import LlamaBackend

        from tutor import paths

        backend = LlamaBackend(
            path=model.path, model=model.name, device=settings.device, parallel=parallel,
            fit_context=fit_context, prefix_cache=paths.cache_dir() / "llama-slots",
        )
    else:
        from tutor.backends.transformers import TransformersBackend

        backend = TransformersBackend(
            model=settings.local_model, device=settings.device, progress=progress, fit_context=fit_context
        )
    backend.load()
    return backend


def build_backend(
    choice: str,
    settings: Settings,
    *,
    notify: Callable[[str], None],
    progress: object | None = None,
) -> Backend:
    """The backend for `choice` ("auto", "openai" or "local").

    Args:
        notify: prints a one-line notice, e.g. why `auto` chose the local model.
        progress: load-progress reporter handed to the local backend (a Rich one in the CLI).
    """
    if choice in ("openai", "auto") and (notice := key_redirect_notice(settings)):
        notify(notice)
    if choice == "openai":
        return openai_backend(settings)
    if choice == "local":
        return local_backend(settings, progress)
    if choice != "auto":
        raise ConfigError(f"unknown backend {choice!r}: use {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    if first_backend(settings, choice) == "openai":
        from tutor.backends.fallback import FallbackBackend

        return FallbackBackend(
            openai_backend(settings), lambda: local_backend(settings, progress), notify
        )
    notify(f"no OPENAI_API_KEY; using local {settings.local_model}")
    return local_backend(settings, progress)
