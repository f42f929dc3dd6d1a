"""Every kind of local model, started by the CLI in a fresh process.

In-process tests once hid an import race that broke trained models for every user: pytest
had already imported transformers. Here each command is a new interpreter, as a learner's is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_train import write_corpus
from tiny_gguf import write_tiny_gguf

pytest.importorskip("xllamacpp")
pytest.importorskip("transformers")


def tutor(*args, home: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TUTOR_HOME": str(home), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "300"}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "tutor", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


def explain_with(model: Path | str, home: Path) -> subprocess.CompletedProcess:
    return tutor("explain", "Hashing", "--backend", "local", "--model", model, "--no-feedback",
                 "--max-tokens", "8", "--temperature", "0", home=home)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    corpus = write_corpus(root / "corpus.txt")
    out = root / "trained"
    done = tutor("train", corpus, "--out", out, "--preset", "tiny", "--block-size", "48", "--steps", "8",
                 home=root / "home")
    assert done.returncode == 0, done.stderr
    return out


def test_a_gguf_file_answers_from_a_fresh_process(tmp_path):
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf", context=4096)
    done = explain_with(gguf, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "local:tiny.gguf" in done.stderr and "8 answer tokens" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_trained_folder_answers_from_a_fresh_process(trained_dir, tmp_path):
    done = explain_with(trained_dir, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert "cannot import name" not in done.stderr
    assert f"local:{trained_dir}" in done.stderr, done.stderr


def test_a_fine_tuned_folder_answers_from_a_fresh_process(trained_dir, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    write_corpus(notes / "a.md", chars=3000, seed=1)
    tuned = tmp_path / "tuned"
    done = tutor("train", notes, "--out", tuned, "--init-from", trained_dir, "--steps", "3", "--block-size", "32",
                 home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    done = explain_with(tuned, tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert f"local:{tuned}" in done.stderr, done.stderr


def test_an_unknown_model_name_is_one_line(tmp_path):
    done = explain_with("qwen-99b", tmp_path / "home")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Unknown model 'qwen-99b'" in lines[0]
