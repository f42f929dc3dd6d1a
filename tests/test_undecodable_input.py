"""Bytes that are not UTF-8 in a topic or in feedback are refused where they are typed.

Python keeps such bytes as lone surrogates (argv; stdin in UTF-8 mode) or fails to decode
them (stdin elsewhere). Either way they must not reach a model or the history.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import pexpect
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies

TIMEOUT = 60  # a stuck test fails instead of hanging; nothing here is timed
NOT_UTF8 = "has bytes that are not valid UTF-8: set your terminal to UTF-8 (e.g. LANG=C.UTF-8) and type it again"


def test_an_undecodable_topic_is_a_usage_error_before_any_model_loads():
    built = []
    deps = Dependencies(build_backend=lambda *args, **kwargs: built.append(1), stdin_is_tty=lambda: False)
    result = CliRunner().invoke(app, ["explain", "caf\udce9 au lait"], obj=deps, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: the topic {NOT_UTF8}"
    assert built == []


def test_feedback_stdin_cannot_decode_is_asked_for_again():
    backend = FakeBackend(["First answer."])
    deps = Dependencies(build_backend=lambda *args, **kwargs: backend, stdin_is_tty=lambda: True)
    result = CliRunner().invoke(
        app, ["explain", "Entropy", "--no-history"], obj=deps, input=b"caf\xe9\n", env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert f"error: that line {NOT_UTF8}" in result.stderr
    assert "Traceback" not in result.output
    assert len(backend.calls) == 1  # the bad line never became a request


def test_undecodable_feedback_in_a_terminal_keeps_the_lesson_and_its_history(openai_server, isolated_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(OPENAI_API_KEY="sk-test-utf8-8888", OPENAI_BASE_URL=openai_server.base_url,
               TUTOR_HOME=str(isolated_env), TERM="xterm-256color", LC_ALL="C")  # readline passes bytes on
    child = pexpect.spawn(sys.executable, ["-m", "tutor", "explain", "Entropy", "--backend", "openai"],
                          env=env, dimensions=(40, 200), timeout=TIMEOUT)
    prompt = "feedback›".encode()
    child.expect(prompt)
    child.sendline(b"caf\xe9 please")  # Latin-1 from a misconfigured terminal
    child.expect(b"that line has bytes that are not valid UTF-8")
    child.expect(prompt)
    child.sendline(b"simpler please")
    child.expect(b"tok/s")  # the revision's footer
    child.expect(prompt)
    child.sendline(b"/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    requests = openai_server.chat_requests
    assert len(requests) == 2 and "simpler please" in requests[1].body["messages"][-1]["content"]
    with sqlite3.connect(isolated_env / "data" / "history.sqlite3") as db:
        turns = db.execute("SELECT feedback, status FROM turns ORDER BY seq").fetchall()
    assert turns == [(None, "done"), ("simpler please", "done")]  # history stayed on
