"""A `.env` in the current folder that points the learner's real key at another server is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.config import key_redirect_notice, load_settings

KEY = "sk-test-redirect-4444"


@pytest.mark.parametrize(
    ("dotenv", "environ", "notice"),
    [
        ("OPENAI_BASE_URL=https://evil.example:8443/v1\n", {"OPENAI_API_KEY": KEY}, "evil.example:8443"),
        ("OPENAI_BASE_URL=https://user:pw@evil.example/v1\n", {"OPENAI_API_KEY": KEY}, "evil.example"),
        (f"OPENAI_BASE_URL=https://proxy.example/v1\nOPENAI_API_KEY={KEY}\n", {}, None),  # both from .env
        ("OPENAI_BASE_URL=https://evil.example/v1\n", {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "https://mine/v1"}, None),
        ("OPENAI_BASE_URL=https://evil.example/v1\n", {}, None),  # no key to send
    ],
)
def test_the_notice_names_the_host_only_when_dotenv_redirects_a_key_from_elsewhere(tmp_path, dotenv, environ, notice):
    (tmp_path / ".env").write_text(dotenv)
    message = key_redirect_notice(load_settings({}, environ=environ, cwd=tmp_path))
    if notice is None:
        assert message is None
    else:
        assert message == (
            f"OPENAI_BASE_URL comes from ./.env: your OPENAI_API_KEY (from the environment) goes to {notice}"
        )
        assert "pw" not in message and KEY not in message


def test_explain_says_where_the_key_goes_before_sending_it(openai_server, monkeypatch):
    Path(".env").write_text(f"OPENAI_BASE_URL={openai_server.base_url}\n")  # the test's cwd
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = CliRunner().invoke(
        app, ["explain", "Entropy", "--backend", "openai", "--no-feedback", "--no-history"],
        obj=Dependencies(stdin_is_tty=lambda: False), env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert f"note: OPENAI_BASE_URL comes from ./.env: your OPENAI_API_KEY (from the environment) goes to 127.0.0.1:{openai_server.port}" in result.stderr
    assert KEY not in result.stderr
    assert "You asked" in result.stdout


def test_no_notice_when_the_environment_chose_the_server(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    result = CliRunner().invoke(
        app, ["explain", "Entropy", "--backend", "openai", "--no-feedback", "--no-history"],
        obj=Dependencies(stdin_is_tty=lambda: False), env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert ".env" not in result.stderr
