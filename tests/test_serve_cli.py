"""The `tutor serve` command: options, start-up errors, and a real run on a tiny model."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from tutor.cli.serve import serve
from tutor.errors import ConfigError, UsageError

KEY = "sk-serve-cli"


def serve_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(serve)
    return app


def serve_command() -> list[str]:
    """`python -m tutor serve` once tutor.cli registers it; the bare command function before."""
    from tutor.cli.app import app

    if any((c.name or c.callback.__name__) == "serve" for c in app.registered_commands):
        return [sys.executable, "-m", "tutor", "serve"]
    return [sys.executable, "-c", "import typer; from tutor.cli.serve import serve; typer.run(serve)"]


def test_help_names_the_options_and_the_key_variable():
    result = CliRunner().invoke(serve_app(), ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--model", "--host", "--port", "--api-key", "TUTOR_SERVE_API_KEY", "--queue", "--grace"):
        assert option in result.output


def test_importing_the_command_loads_no_server_or_model_libraries():
    code = "import sys, tutor.cli.serve; print(sorted({'starlette', 'uvicorn', 'torch', 'transformers'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_busy_port_fails_before_the_model_loads():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(serve_app(), ["--port", str(port), "--model", "/no/such/model"])
    assert isinstance(result.exception, ConfigError)
    assert "--port" in str(result.exception)


@pytest.mark.parametrize("args", [["--port", "70000"], ["--queue", "-1"]])
def test_out_of_range_options_are_usage_errors(args):
    result = CliRunner().invoke(serve_app(), args)
    assert isinstance(result.exception, UsageError)


def test_serve_runs_a_tiny_model_until_sigterm(tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    openai = pytest.importorskip("openai")
    from tiny_model import save_tiny_model

    directory = save_tiny_model(tmp_path / "tiny")
    env = {**os.environ, "TUTOR_SERVE_API_KEY": KEY, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [*serve_command(), "--model", str(directory), "--device", "cpu", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if match := re.search(r"Serving (\S+) on (http://\S+/v1)", line):
                break
        assert match, "".join(seen)
        model, url = match.groups()
        assert model == "tiny"

        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=60)
        reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
        assert reply.usage.completion_tokens <= 4
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        proc.kill()
        proc.communicate()


def test_ctrl_c_stops_the_server_cleanly_without_saying_interrupted(tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_model import save_tiny_model

    directory = save_tiny_model(tmp_path / "tiny")
    proc = subprocess.Popen(
        [*serve_command(), "--model", str(directory), "--device", "cpu", "--port", "0"],
        env={**os.environ, "COLUMNS": "200"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "Serving" in line:
                break
        match = re.search(r"on (http://\S+)/v1", "".join(seen))
        assert match, "".join(seen)
        import urllib.request

        for _ in range(300):  # until uvicorn answers: its Ctrl-C handling is in place
            try:
                urllib.request.urlopen(f"{match.group(1)}/health", timeout=5).close()
                break
            except OSError:
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(30) == 0, rest
        assert "stopped" in rest and "interrupted" not in rest
    finally:
        proc.kill()
        proc.communicate()
