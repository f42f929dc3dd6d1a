"""A GGUF file tutor cannot use gives one readable line (no doubled period, no traceback)."""

from __future__ import annotations

import struct

import pytest
from typer.testing import CliRunner

from tutor.cli.app import app
from tutor.cli.deps import Dependencies


def test_a_gguf_without_an_architecture_is_one_clean_line(tmp_path):
    pytest.importorskip("transformers")
    gguf = tmp_path / "noarch.gguf"
    gguf.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))  # version 3, no tensors, no metadata
    result = CliRunner().invoke(
        app, ["explain", "Entropy", "--backend", "local", "--model", str(gguf), "--no-feedback", "--no-history"],
        obj=Dependencies(stdin_is_tty=lambda: False), env={"COLUMNS": "400"},
    )
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and "noarch.gguf" in line
    assert ".." not in line.replace(str(tmp_path), "")  # was "...in its metadata.. Use a Llama-family GGUF"
