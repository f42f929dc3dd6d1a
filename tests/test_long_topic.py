"""A huge topic (120 KB pasted by mistake) takes one row in `tutor history`, one line in headers."""

from __future__ import annotations

from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies

TOPIC = "recursion " * 12_000  # 120,000 characters before whitespace is collapsed


def run(args):
    deps = Dependencies(build_backend=lambda *args, **kwargs: FakeBackend(["An answer."]), stdin_is_tty=lambda: False)
    return CliRunner().invoke(app, args, obj=deps, env={"COLUMNS": "150"})


def test_history_and_show_shorten_a_huge_topic():
    assert run(["explain", TOPIC]).exit_code == 0
    listed = run(["history"])
    assert listed.exit_code == 0, listed.output
    rows = listed.stdout.splitlines()
    assert len(rows) < 12, len(rows)  # was about 20,000 rows of one folded cell
    assert "(119,999 characters)" in listed.stdout
    lesson_id = rows[3].split("│")[1].strip()
    shown = run(["show", lesson_id])
    assert shown.exit_code == 0, shown.output
    assert len(shown.stderr) < 400 and "… (119,999 characters)" in shown.stderr
    exported = run(["export", lesson_id])
    assert exported.stdout.startswith(f"# {TOPIC.strip()}\n")  # export keeps it whole
