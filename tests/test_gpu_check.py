"""bench/gpu_check.sh without a GPU: one clear line, a non-zero exit, nothing installed.

The GPU path itself needs an NVIDIA machine (see the script's header); here we check that it
parses and that it refuses at once, before any install, when there is no GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_check.sh"
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")


def run_with_path(bin_dir: Path) -> subprocess.CompletedProcess:
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)


def test_the_script_parses():
    assert subprocess.run([BASH, "-n", str(SCRIPT)]).returncode == 0


@pytest.mark.parametrize(
    "fake_smi, message",
    [
        (None, "gpu_check: no NVIDIA GPU here: nvidia-smi is not installed; run this on a machine with an NVIDIA GPU"),
        ("echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"; exit 9",
         "gpu_check: no usable NVIDIA GPU: nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate"),
        ("exit 0", "gpu_check: no NVIDIA GPU: nvidia-smi lists none"),
    ],
)  # fmt: skip
def test_without_a_gpu_it_stops_with_one_line_and_installs_nothing(tmp_path, fake_smi, message):
    if fake_smi is not None:
        smi = tmp_path / "nvidia-smi"
        smi.write_text(f"#!{BASH}\n{fake_smi}\n")
        smi.chmod(0o755)
    repo = SCRIPT.parents[1]
    before = {p.name for p in repo.iterdir()} | {p.name for p in (repo / "out").glob("*")}
    result = run_with_path(tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    after = {p.name for p in repo.iterdir()} | {p.name for p in (repo / "out").glob("*")}
    assert after == before  # no venv, no out/gpu-check


def test_serve_load_drives_an_already_running_server(openai_server):
    """The script's load step: `bench/serve_load.py --url` against a server it did not start
    (vLLM there; the loopback OpenAI server here)."""
    import sys

    bench = SCRIPT.parent / "serve_load.py"
    result = subprocess.run([sys.executable, str(bench), "--url", openai_server.base_url, "--model", "tutor-test",
                             "--levels", "1", "2", "--requests", "2", "--max-tokens", "8", "--time-limit", "30"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [(r[1].strip(), r[2].strip(), r[4].strip()) for r in rows] == [("1", "2", "0"), ("2", "2", "0")]
    assert all(int(r[8]) > 0 for r in rows)  # tokens counted from the usage chunks
