"""The CLI package's contracts: option choices come from their one owner in config, TUTOR_DEBUG
means what it says, and history closes itself. (Import cycles: test_layout.py.)"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tutor.cli.app import app
from tutor.cli.choices import BackendChoice, DeviceChoice, LevelChoice
from tutor.cli.console import debug_requested
from tutor.cli.deps import Dependencies
from tutor.config import BACKENDS, DEVICES, LEVELS
from tutor.history.store import HistoryStore


def test_option_choices_are_the_config_names_in_order():
    assert [choice.value for choice in BackendChoice] == list(BACKENDS)
    assert [choice.value for choice in DeviceChoice] == list(DEVICES)
    assert [choice.value for choice in LevelChoice] == list(LEVELS)


@pytest.mark.parametrize("value, wanted", [
    ("1", True), ("true", True), ("YES", True), (" yes ", True),
    ("0", False), ("", False), ("false", False), ("no", False), ("off", False),
])
def test_tutor_debug_is_on_only_for_1_true_or_yes(value, wanted):
    assert debug_requested({"TUTOR_DEBUG": value}) is wanted


def test_tutor_debug_unset_is_off():
    assert debug_requested({}) is False


def failing_build(choice, settings, **kwargs):
    raise RuntimeError("a bug")


def test_tutor_debug_0_keeps_an_unexpected_error_to_one_line():
    deps = Dependencies(build_backend=failing_build, stdin_is_tty=lambda: False)
    result = CliRunner().invoke(app, ["explain", "X", "--no-feedback"], obj=deps, env={"TUTOR_DEBUG": "0"})
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unexpected RuntimeError: a bug (set TUTOR_DEBUG=1 for details)"
    assert not isinstance(result.exception, RuntimeError)


def test_tutor_debug_1_lets_the_unexpected_error_through():
    deps = Dependencies(build_backend=failing_build, stdin_is_tty=lambda: False)
    result = CliRunner().invoke(app, ["explain", "X", "--no-feedback"], obj=deps, env={"TUTOR_DEBUG": "1"})
    assert isinstance(result.exception, RuntimeError)


def test_the_history_store_closes_when_its_block_ends(tmp_path):
    with HistoryStore.open(tmp_path / "history.db") as store:
        assert store.latest_id() is None
    with pytest.raises(Exception, match="closed"):
        store.conn.execute("SELECT 1")


def test_help_imports_only_the_command_modules_not_what_the_commands_use():
    """Every command module is imported to register it, so each keeps its work inside the command."""
    import subprocess
    import sys

    script = "import sys\nfrom tutor.cli.app import app\napp(['--help'], standalone_mode=False)\nprint(*sys.modules)"
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                timeout=60).stdout.split())
    assert "tutor.cli.app" in loaded
    used = {"rich.table", "rich.progress", "tutor.cli.progress", "tutor.cli.notes", "tutor.history", "tutor.notes",
            "tutor.lesson", "tutor.backends", "tutor.models.store"}
    assert used & loaded == set()
