"""Effective settings, from flags, then real environment variables, then a `.env` file.

Nothing is read at import time: `load_settings` does the I/O when a command asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from tutor.errors import ConfigError
from tutor.options import GenerationOptions

ANSWERING_BACKENDS = ("openai", "local")  # what answers; "auto" is the rule that picks one (first_backend)
BACKENDS = ("auto", *ANSWERING_BACKENDS)
LEVELS = ("beginner", "intermediate", "expert")
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_LOCAL_MODEL = "qwen-1.5b"  # chosen by measurement: BENCHMARKS.md "Choosing the offline model"

# Environment variable for each setting. Flags use the field name.
ENV_NAMES = {
    "backend": "TUTOR_BACKEND",
    "openai_model": "TUTOR_MODEL",
    "local_model": "TUTOR_LOCAL_MODEL",
    "api_key": "OPENAI_API_KEY",
    "base_url": "OPENAI_BASE_URL",
    "level": "TUTOR_LEVEL",
    "device": "TUTOR_DEVICE",
    "prompts_dir": "TUTOR_PROMPTS_DIR",
}


@dataclass
class Settings:
    """Everything a command needs to know, already resolved.

    Args:
        backend: "auto" uses OpenAI when a key is configured and the local model otherwise.
        openai_model: model name sent to the OpenAI-compatible server.
        local_model: a shipped model (`qwen-1.5b`, `qwen-0.5b`, `smollm2`), a pulled one, a
            .gguf file, or a Hugging Face model directory.
        api_key: never printed in full; see `masked_key`.
        base_url: any OpenAI-compatible server (Ollama, vLLM, LM Studio, `tutor serve`).
        sources: where each field's value came from ("flag", "env", ".env", "default").
    """

    backend: str = "auto"
    openai_model: str = DEFAULT_OPENAI_MODEL
    local_model: str = DEFAULT_LOCAL_MODEL
    api_key: str | None = None
    base_url: str | None = None
    level: str = "intermediate"
    device: str = "auto"
    prompts_dir: Path | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def masked_key(self) -> str:
        return mask_key(self.api_key)


def mask_key(key: str | None) -> str:
    """`sk-…abcd`: enough to tell keys apart, never enough to use one."""
    if not key:
        return "(not set)"
    prefix = "sk-" if key.startswith("sk-") else ""
    tail = key[-4:] if len(key) >= 12 else ""
    return f"{prefix}…{tail}"


def read_dotenv(directory: Path) -> dict[str, str]:
    """Values from `directory/.env`, or nothing when there is no such file."""
    path = directory / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_settings(
    flags: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings with precedence flags > environment > `.env` > defaults.

    Args:
        flags: command-line values; `None` entries mean "not given". A `model` flag applies to
            the backend that will answer first (OpenAI under `auto` when a key is set).
        environ: defaults to `os.environ`.
        cwd: where to look for `.env`; defaults to the current directory.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    dotenv = read_dotenv(cwd or Path.cwd())
    settings = Settings()
    for name, env_name in ENV_NAMES.items():
        if name in flags:
            value, source = flags[name], "flag"
        elif environ.get(env_name):
            value, source = environ[env_name], "env"
        elif dotenv.get(env_name):
            value, source = dotenv[env_name], ".env"
        else:
            continue
        if name == "prompts_dir":
            value = Path(str(value)).expanduser()
        setattr(settings, name, value)
        settings.sources[name] = source

    _check_choice("backend", settings.backend, BACKENDS)
    _check_choice("level", settings.level, LEVELS)
    _check_choice("device", settings.device, DEVICES)

    model = flags.get("model")
    if model is not None:
        target = first_backend(settings)
        setattr(settings, f"{target}_model", str(model))
        settings.sources[f"{target}_model"] = "flag"

    option_names = GenerationOptions.__dataclass_fields__
    settings.options = GenerationOptions(**{k: v for k, v in flags.items() if k in option_names})
    return settings


def key_redirect_notice(settings: Settings) -> str | None:
    """A one-line warning when this folder's `.env` sends a key from elsewhere to another server.

    A `.env` is easy to pick up with a cloned project; its OPENAI_BASE_URL would otherwise
    receive the learner's real key from the environment without a word. None when the key
    and the URL come from the same place, or either is missing.
    """
    if not settings.api_key or not settings.base_url or settings.sources.get("base_url") != ".env":
        return None
    key_source = settings.sources.get("api_key")
    if key_source == ".env":
        return None
    host = urlsplit(settings.base_url).netloc.rpartition("@")[2] or settings.base_url  # no user:password
    where = "environment" if key_source == "env" else key_source
    return f"OPENAI_BASE_URL comes from ./.env: your OPENAI_API_KEY (from the {where}) goes to {host}"


def first_backend(settings: Settings, choice: str | None = None) -> str:
    """The backend that answers first for `choice` (`settings.backend` when None).

    The one owner of the `auto` rule: OpenAI when a key is configured, else the local model.
    """
    choice = settings.backend if choice is None else choice
    if choice == "auto":
        return "openai" if settings.api_key else "local"
    return choice


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        env_name = ENV_NAMES[name]
        raise ConfigError(f"{env_name}={value!r} is not one of: {', '.join(choices)}")
