"""Notes that are not what they seem: Rich markup in a heading, a FIFO among the files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies

TIMEOUT = 120  # a FIFO read would block forever: the old behaviour fails here instead of hanging


def test_sources_prints_markup_in_a_heading_as_text(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "recursion.md").write_text(
        "## Recursion basics [/bold] and [red]colour[/red]\n\nA recursive function calls itself on a smaller input.\n"
    )
    backend = FakeBackend(["Recursion is ..."])
    deps = Dependencies(build_backend=lambda *args, **kwargs: backend, stdin_is_tty=lambda: True)
    result = CliRunner().invoke(
        app, ["explain", "recursive function", "--notes", str(notes), "--no-history"],
        obj=deps, input="/sources\n/quit\n", env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "Recursion basics [/bold] and [red]colour[/red]" in result.stderr
    assert "notes/recursion.md" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_among_the_notes_is_skipped_with_a_warning(openai_server, isolated_env, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "waves.md").write_text("# Waves\n\nLight is a wave, and so is sound.\n")
    os.mkfifo(notes / "pipe.md")  # nobody ever writes to it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(OPENAI_API_KEY="sk-test-fifo-1111", OPENAI_BASE_URL=openai_server.base_url,
               TUTOR_HOME=str(isolated_env), COLUMNS="200")
    result = subprocess.run(
        [sys.executable, "-m", "tutor", "explain", "light waves", "--backend", "openai", "--no-feedback",
         "--notes", str(notes)],
        env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "warning: skipped notes/pipe.md: not a regular file" in result.stderr
    assert "notes: 1 passages from 1 files" in result.stderr
    assert "You asked" in result.stdout
