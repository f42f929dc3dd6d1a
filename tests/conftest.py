"""Shared test set-up: a temporary tutor home, no API keys, no network, no model downloads."""

from __future__ import annotations

import pytest

_SCRUBBED = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "TUTOR_MODEL",
    "TUTOR_LOCAL_MODEL",
    "TUTOR_BACKEND",
    "TUTOR_PROMPTS_DIR",
    "TUTOR_NOTES",
    "TUTOR_NO_HISTORY",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own TUTOR_HOME and a cwd without a .env, and cannot reach a hub."""
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "tutor-home"
    monkeypatch.setenv("TUTOR_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


# The loopback OpenAI-compatible server, for every test that needs one.
from openai_server import openai_server  # noqa: E402,F401
