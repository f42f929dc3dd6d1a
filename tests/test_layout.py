"""The package's shape: no import cycles between modules of `tutor/`, and no oversized module.

The graph counts every import, including the lazy ones inside functions and those under
`TYPE_CHECKING`: a lazy import hides a cycle from Python, not from the reader.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import tutor

PACKAGE = Path(tutor.__file__).parent
MAX_LINES = 320  # "about 300": room for a docstring, never for a second concept


def module_files() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("tutor",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module` imports: for `from a import b`, both `a` and `a.b`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a name resolves to its longest module prefix)."""
    modules = module_files()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        targets = {owner(name) for name in imported_names(module, path) if name.split(".")[0] == "tutor"}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def test_the_import_graph_sees_our_imports():
    graph = import_graph()
    assert "tutor.errors" in graph["tutor.options"]
    assert "tutor.options" in graph["tutor.backends.base"]


def test_no_import_cycles_between_modules():
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as cycle:
        pytest.fail("import cycle: " + " -> ".join(cycle.args[1]))


def test_the_library_never_imports_the_cli():
    users = {
        module
        for module, targets in import_graph().items()
        if not module.startswith("tutor.cli") and module != "tutor.__main__"
        and any(target.startswith("tutor.cli") for target in targets)
    }
    assert users == set()


def test_options_import_nothing_of_ours_but_errors():
    assert import_graph()["tutor.options"] == {"tutor.errors"}


def test_no_module_is_oversized():
    oversized = {
        module: lines
        for module, path in module_files().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert oversized == {}
