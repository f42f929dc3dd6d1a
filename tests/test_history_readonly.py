"""A TUTOR_HOME on a read-only file system: the lesson goes on without history.

The folder is made read-only for real: a bind mount remounted read-only inside a private
mount namespace (`unshare -rm`), so the kernel answers EROFS as on a read-only disk, even to
root. Skipped where user namespaces are not available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.history.store import HistoryStore

TIMEOUT = 120  # a stuck run fails instead of hanging; nothing here is timed
READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def read_only_run(folder: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ARGS with `folder` read-only for it (and only for it)."""
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", READ_ONLY, str(folder), *args],
        env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def read_only_works(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    probe = tmp_path / "probe"
    probe.mkdir()
    result = read_only_run(probe, ["sh", "-c", 'touch "$0/x"', str(probe)], dict(os.environ))
    if "Read-only file system" not in result.stderr:
        pytest.skip(f"cannot make a read-only bind mount here: {result.stderr.strip()}")


def tutor_env(server, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(OPENAI_API_KEY="sk-test-readonly-7777", OPENAI_BASE_URL=server.base_url,
               TUTOR_HOME=str(home), COLUMNS="200")
    return env


@pytest.mark.parametrize("database", ["healthy", "damaged"])
def test_explain_shows_the_answer_with_history_off(read_only_works, openai_server, isolated_env, database):
    store = HistoryStore.open()  # an existing database, as after earlier lessons
    assert store is not None
    store.close()
    if database == "damaged":  # moving it aside is impossible too: same notice, same answer
        store.path.write_bytes(b"not a database" * 100)
    result = read_only_run(
        isolated_env,
        [sys.executable, "-m", "tutor", "explain", "Entropy", "--backend", "openai", "--no-feedback"],
        tutor_env(openai_server, isolated_env),
    )
    assert result.returncode == 0, result.stderr
    assert "You asked: Explain this topic to me: Entropy" in result.stdout
    assert "note: history is off for this lesson: cannot open the history database" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_history_show_and_export_read_a_read_only_home(read_only_works, openai_server, isolated_env):
    store = HistoryStore.open()
    assert store is not None
    lesson_id = store.new_lesson(topic="Entropy", level="beginner", backend="openai", model="m", prompts="fp",
                                 messages=[{"role": "user", "content": "Explain entropy"}])
    seq = store.start_turn(lesson_id, feedback=None, backend="openai", model="m", messages=[])
    store.finish_turn(lesson_id, seq, answer="Disorder, counted.", status="done", error=None, usage=None,
                      messages=[{"role": "user", "content": "Explain entropy"}])
    store.close()
    env = tutor_env(openai_server, isolated_env)
    tutor = [sys.executable, "-m", "tutor"]

    listed = read_only_run(isolated_env, [*tutor, "history"], env)
    assert listed.returncode == 0, listed.stderr
    assert lesson_id in listed.stdout and "Entropy" in listed.stdout

    shown = read_only_run(isolated_env, [*tutor, "show", lesson_id], env)
    assert (shown.returncode, shown.stdout) == (0, "Disorder, counted.\n")

    deleted = read_only_run(isolated_env, [*tutor, "delete", lesson_id, "--yes"], env)
    assert deleted.returncode == 1
    assert deleted.stderr.strip().splitlines() == [
        f"error: cannot write the history database {store.path}: attempt to write a readonly database"
    ]
