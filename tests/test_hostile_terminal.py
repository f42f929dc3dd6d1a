"""A hostile server, hostile notes and a hostile history against a real terminal.

Every output path that shows text from a model, a server, notes or the history runs in a
pseudo-terminal, and the test reads the raw bytes the terminal would receive: the only escape
sequences allowed are Rich's own (styles, and the live view's cursor moves) and readline's
mode switches. No OSC, DCS or C1 control, no device query, no screen clearing.
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys

import pexpect
import pytest

from openai_server import HOSTILE, Reply, hostile_answer
from terminal_bytes import terminal_problems

TIMEOUT = 60  # generous: a stuck test fails instead of hanging; nothing here is timed
KEY = "sk-test-hostile-0000"
PROMPT = "feedback›".encode()

def env_for(server, home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(
        OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url, TUTOR_HOME=str(home),
        TERM="xterm-256color", COLUMNS="100", LINES="40", **extra,
    )
    return env


def spawn(args: list[str], server, home, cwd) -> tuple[pexpect.spawn, io.BytesIO]:
    """`tutor ARGS` in a pty; the second value collects every byte the terminal receives."""
    received = io.BytesIO()
    child = pexpect.spawn(
        sys.executable, ["-m", "tutor", *args], env=env_for(server, home), cwd=str(cwd),
        dimensions=(40, 100), timeout=TIMEOUT,
    )
    child.logfile_read = received
    return child, received


def finish(child: pexpect.spawn, received: io.BytesIO) -> bytes:
    child.expect(pexpect.EOF)
    child.close()
    return received.getvalue()


def assert_safe(raw: bytes) -> None:
    problems = terminal_problems(raw)
    assert not problems, f"{problems} in {raw[-2000:]!r}"
    assert "\ufffd".encode() in raw  # the hostile text was shown, neutralized, not silently dropped


def test_the_checker_catches_what_the_old_output_sent():
    raw = f"ok \x1b[1mbold\x1b[0m {HOSTILE}".encode()
    problems = " ".join(terminal_problems(raw))
    for needle in ("]52;", "]0;pwned", "[2J", "[6n", "[c", "P+q", "\\x9b", "\\x9d", "\\x08"):
        assert needle in problems
    assert terminal_problems(b"\x1b[1;31mred\x1b[0m \x1b[?25l\x1b[2K\x1b[1A\r\n") == []


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "recursion.md").write_text(
        f"## Recursion basics [/bold] {HOSTILE}\n\nA function that calls itself {HOSTILE} needs a base case.\n",
        encoding="utf-8",
    )
    return folder


def test_a_hostile_lesson_never_drives_the_terminal(openai_server, isolated_env, notes, tmp_path):
    """Live answer, notes in /sources, a server error, then history, show, resume, export
    and --plain, all in a terminal."""
    topic = f"Recursion {HOSTILE}"
    openai_server.enqueue(Reply.hostile(), Reply.hostile_error(400))
    cwd = tmp_path / "cwd"
    child, received = spawn(
        ["explain", topic, "--backend", "openai", "--notes", str(notes)], openai_server, isolated_env, cwd
    )
    child.expect(PROMPT)
    child.sendline("/sources")
    child.expect(b"Recursion basics")
    child.expect(PROMPT)
    child.sendline("simpler please")
    child.expect(b"end of error")
    child.expect(PROMPT)
    child.sendline("/quit")
    live = finish(child, received)
    assert child.exitstatus == 0
    assert_safe(live)
    assert b"Plain words" in live and b"fenced" in live and b"a list item" in live

    # Stored as received: the history keeps the server's bytes; only the display is made safe.
    with sqlite3.connect(isolated_env / "data" / "history.sqlite3") as db:
        (lesson_id,) = db.execute("SELECT id FROM lessons").fetchone()
        answers = [a for (a,) in db.execute("SELECT answer FROM turns ORDER BY seq")]
        errors = [e for (e,) in db.execute("SELECT error FROM turns ORDER BY seq")]
    assert answers[0].startswith(hostile_answer().rstrip("\n"))
    assert "\x1b]52;c;aGFja2Vk\x1b\\" in errors[1]  # the error text, as the server sent it

    for args in (
        ["history"],
        ["show", lesson_id, "--all"],
        ["resume", lesson_id, "--no-feedback"],
        ["export", lesson_id],
    ):
        child, received = spawn(args, openai_server, isolated_env, cwd)
        raw = finish(child, received)
        assert child.exitstatus == 0, (args, raw[-500:])
        assert_safe(raw)

    openai_server.enqueue(Reply.hostile())
    child, received = spawn(["explain", "Recursion", "--backend", "openai", "--plain", "--no-feedback"],
                            openai_server, isolated_env, cwd)
    raw = finish(child, received)
    assert child.exitstatus == 0
    assert_safe(raw)
    assert b"Plain words" in raw



def test_lone_surrogates_from_the_server_neither_stop_history_nor_the_next_request(openai_server, isolated_env, tmp_path):
    """JSON can carry "\\ud800", which no encoder writes: it becomes U+FFFD where it arrives."""
    openai_server.enqueue(Reply.stream(["half \ud800 surrogate"]), Reply.error(400, {"error": {"message": "bad \udfff"}}))
    child, received = spawn(["explain", "Recursion", "--backend", "openai"], openai_server, isolated_env, tmp_path)
    child.expect(PROMPT)
    child.sendline("again")
    child.expect(b"bad \xef\xbf\xbd")
    child.expect(PROMPT)
    child.sendline("and again")
    child.expect(PROMPT)
    child.sendline("/quit")
    raw = finish(child, received)
    assert child.exitstatus == 0
    assert terminal_problems(raw) == []
    assert b"history is off" not in raw
    assert len(openai_server.chat_requests) == 3
    with sqlite3.connect(isolated_env / "data" / "history.sqlite3") as db:
        turns = db.execute("SELECT answer, status, error FROM turns ORDER BY seq").fetchall()
    assert turns[0][:2] == ("half \ufffd surrogate", "done")
    assert turns[1][1:] == ("error", f"OpenAI at 127.0.0.1:{openai_server.port} answered HTTP 400: bad \ufffd.")
    assert turns[2][1] == "done"


def test_stdout_redirected_keeps_both_the_live_view_and_the_copy_safe(openai_server, isolated_env, tmp_path):
    """`tutor explain X > answer.md` on a terminal: the live view goes to stderr, a copy to the file."""
    openai_server.enqueue(Reply.hostile())
    copy = tmp_path / "answer.md"
    received = io.BytesIO()
    child = pexpect.spawn(
        "sh", ["-c", f'exec "$0" -m tutor explain Recursion --backend openai > "{copy}"', sys.executable],
        env=env_for(openai_server, isolated_env), cwd=str(tmp_path), dimensions=(40, 100), timeout=TIMEOUT,
    )
    child.logfile_read = received
    child.expect(PROMPT)
    child.sendline("/quit")
    finish(child, received)
    assert child.exitstatus == 0
    assert_safe(received.getvalue())
    assert_safe(copy.read_bytes())
    assert b"Plain words" in copy.read_bytes()
