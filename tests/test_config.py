from __future__ import annotations

import pytest

from tutor.config import load_settings, mask_key
from tutor.errors import ConfigError, UsageError


def test_defaults_without_anything_configured(tmp_path):
    settings = load_settings({}, environ={}, cwd=tmp_path)
    assert settings.backend == "auto"
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.local_model == "qwen-1.5b"
    assert settings.api_key is None
    assert settings.sources == {}


def test_precedence_is_flag_then_environment_then_dotenv(tmp_path):
    (tmp_path / ".env").write_text("TUTOR_MODEL=from-dotenv\nOPENAI_BASE_URL=http://dotenv/v1\nTUTOR_LEVEL=beginner\n")
    environ = {"TUTOR_MODEL": "from-env", "OPENAI_BASE_URL": "http://env/v1"}
    settings = load_settings({"backend": "openai", "model": "from-flag"}, environ=environ, cwd=tmp_path)
    assert settings.openai_model == "from-flag"
    assert settings.base_url == "http://env/v1"
    assert settings.level == "beginner"
    assert settings.sources == {
        "backend": "flag",
        "openai_model": "flag",
        "base_url": "env",
        "level": ".env",
    }


def test_dotenv_does_not_leak_into_the_process_environment(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv-1234\n")
    settings = load_settings({}, cwd=tmp_path)
    assert settings.api_key == "sk-from-dotenv-1234"
    import os

    assert "OPENAI_API_KEY" not in os.environ


@pytest.mark.parametrize(
    ("environ", "target"),
    [({}, "local_model"), ({"OPENAI_API_KEY": "sk-x"}, "openai_model")],
)
def test_model_flag_under_auto_goes_to_the_backend_that_answers(tmp_path, environ, target):
    settings = load_settings({"model": "m"}, environ=environ, cwd=tmp_path)
    assert getattr(settings, target) == "m"


def test_bad_backend_in_the_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="TUTOR_BACKEND='gemini' is not one of: auto, openai, local"):
        load_settings({}, environ={"TUTOR_BACKEND": "gemini"}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"temperature": -0.1}, "--temperature must be between 0 and 2"),
        ({"top_p": 1.5}, "--top-p must be greater than 0 and at most 1"),
        ({"max_tokens": 0}, "--max-tokens must be at least 1"),
        ({"top_k": 0}, "--top-k must be at least 1"),
    ],
)
def test_options_out_of_range(tmp_path, flags, message):
    with pytest.raises(UsageError, match=message):
        load_settings(flags, environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        (None, "(not set)"),
        ("sk-proj-abcdefghijklmnop1234", "sk-…1234"),
        ("short", "…"),
        ("gsk_averylongkeywithout_sk_prefix9876", "…9876"),
    ],
)
def test_masked_key_never_shows_the_key(key, shown):
    assert mask_key(key) == shown
