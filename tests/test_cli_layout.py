"""The CLI package's shape: no import loops, the library never imports it, option choices come
from their one owner in config, and TUTOR_DEBUG means what it says."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli.app import app
from tutor.cli.choices import BackendChoice, DeviceChoice, LevelChoice
from tutor.cli.console import debug_requested
from tutor.cli.deps import Dependencies
from tutor.config import BACKENDS, DEVICES, LEVELS
from tutor.history.store import HistoryStore

PACKAGE = Path(__file__).resolve().parent.parent / "tutor"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The tutor modules `path` imports anywhere (lazy imports inside functions count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(paths)) - {name} for name, path in paths.items()}


def test_no_import_cycle_among_the_cli_modules():
    graph = {name: {t for t in targets if t.startswith("tutor.cli")}
             for name, targets in import_graph().items() if name.startswith("tutor.cli")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path[path.index(name):], name])
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    assert "tutor.cli.app" in graph
    for name in sorted(graph):
        visit(name, [])


def test_the_library_never_imports_the_cli():
    users = {name for name, targets in import_graph().items()
             if not name.startswith("tutor.cli") and name != "tutor.__main__"
             and any(t.startswith("tutor.cli") for t in targets)}
    assert users == set()


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
            "tutor.lesson", "tutor.backends", "tutor.modelstore"}
    assert used & loaded == set()
