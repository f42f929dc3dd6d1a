"""The real `tutor` in a pseudo-terminal (and behind a pipe), against the loopback server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pexpect
import pytest

from openai_server import Reply

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIMEOUT = 60  # generous: a stuck test fails instead of hanging CI; nothing here is timed


def tutor_env(server, home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(
        OPENAI_API_KEY="sk-test-interactive-0000",
        OPENAI_BASE_URL=server.base_url,
        TUTOR_HOME=str(home),
        TERM="xterm-256color",
        COLUMNS="100",
        LINES="40",
    )
    return env


def spawn(args, server, home) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tutor", *args],
        env=tutor_env(server, home),
        encoding="utf-8",
        dimensions=(40, 100),
        timeout=TIMEOUT,
    )
    return child


def test_feedback_loop_in_a_real_terminal(openai_server, isolated_env):
    child = spawn(["explain", "Transformers in ML", "--backend", "openai"], openai_server, isolated_env)
    child.expect("You asked: Explain this topic to me: Transformers in ML")
    child.expect("feedback›")
    child.sendline("simpler please")
    child.expect("simpler please")
    child.expect("feedback›")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    bodies = [r.body for r in openai_server.chat_requests]
    assert len(bodies) == 2
    assert bodies[1]["messages"][2]["role"] == "assistant"
    assert "simpler please" in bodies[1]["messages"][3]["content"]
    assert bodies[0]["stream_options"] == {"include_usage": True}


def test_ctrl_c_mid_stream_keeps_the_partial_answer(openai_server, isolated_env):
    stalled = Reply.stream(["# Partial\n\n", "These words arrived ", "but not these"], stall_after=2)
    openai_server.enqueue(stalled)
    child = spawn(["explain", "Entropy", "--backend", "openai"], openai_server, isolated_env)
    assert stalled.stalled.wait(TIMEOUT)
    child.expect("These words arrived")
    child.sendintr()
    child.expect(r"\(interrupted\)")
    child.expect("feedback›")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "but not these" not in ANSI.sub("", child.before or "")


def test_ctrl_c_at_the_prompt_exits_cleanly(openai_server, isolated_env):
    child = spawn(["explain", "Entropy", "--backend", "openai"], openai_server, isolated_env)
    child.expect("feedback›")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_piped_output_is_plain_text(openai_server, isolated_env, tmp_path):
    out = tmp_path / "answer.md"
    with out.open("w") as handle:
        result = subprocess.run(
            [sys.executable, "-m", "tutor", "explain", "Entropy", "--backend", "openai"],
            env=tutor_env(openai_server, isolated_env),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# Answer\n\nYou asked: Explain this topic to me: Entropy")
    assert "\x1b" not in text
    assert "feedback›" not in text + result.stderr
    assert "sk-test-interactive-0000" not in text + result.stderr


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.error(401), "401"),
        (Reply.stream(["Half an answer ", "and"], drop_after=1), "Half an answer"),
    ],
)
def test_failures_through_a_pipe_exit_non_zero_without_a_traceback(openai_server, isolated_env, reply, message):
    openai_server.enqueue(reply)
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "explain", "Entropy", "--backend", "openai"],
        env=tutor_env(openai_server, isolated_env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "sk-test-interactive-0000" not in result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_feedback_with_stdout_redirected_shows_each_answer_and_writes_a_document(openai_server, isolated_env, tmp_path):
    out = tmp_path / "lesson.md"
    command = f'exec "{sys.executable}" -m tutor explain Entropy --backend openai > "{out}"'
    child = pexpect.spawn("/bin/sh", ["-c", command], env=tutor_env(openai_server, isolated_env),
                          encoding="utf-8", dimensions=(40, 100), timeout=TIMEOUT)
    child.expect("each answer is shown here and written there under a heading")
    child.expect("You asked: Explain this topic to me: Entropy")  # on the terminal, through stderr
    child.expect("feedback›")
    child.sendline("simpler please")
    child.expect("You asked: ")
    child.expect("feedback›")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    text = out.read_text()
    assert text.startswith("# Entropy\n\n## Explanation\n\n# Answer\n\nYou asked: Explain this topic to me: Entropy")
    assert "\n\n---\n\n## Feedback\n\n> simpler please\n\n## Revised explanation\n\n# Answer\n\n" in text
    assert text.count("---\n") == 1

