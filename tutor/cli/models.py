"""`tutor models`: the models tutor can use (registered by `tutor.cli.app`).

Listing never imports torch or llama.cpp: sizes come from the disk and the catalog. Every name
listed works in `--model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from tutor.cli.console import stdout_console
from tutor.errors import ModelError

if TYPE_CHECKING:
    from rich.table import Table


@dataclass(frozen=True)
class ModelRow:
    name: str
    kind: str
    parameters: int | None
    size: int | None  # bytes on disk
    path: str
    ready: str


def collect_models(
    *, openai_model: str | None = None, openai_key: bool = False, default_local: str | None = None
) -> list[ModelRow]:
    """Every model `tutor` knows about: shipped, pulled, trained, and the OpenAI one."""
    from tutor.models import folder, store  # hashing and the gpt package: not for `tutor --help`
    from tutor.config import DEFAULT_LOCAL_MODEL
    from tutor.models import shipped
    from tutor.models.catalog import SHIPPED

    default_local = default_local or DEFAULT_LOCAL_MODEL
    rows = []
    for model in SHIPPED.values():
        try:
            shipped.part_paths(model)
        except ModelError:
            ready = f"no: {model.install_hint}"
        else:
            ready = "yes" if shipped.is_ready(model) else "yes, verified on first use"
        name = f"{model.name} (default)" if model.name == default_local else model.name
        rows.append(ModelRow(name, f"{model.title}, needs RAM {model.ram}", model.parameters, model.size, "-", ready))
    rows += _pulled_rows()
    trained = store.trained_models_dir()
    for directory in sorted(trained.iterdir()) if trained.is_dir() else []:
        if directory.is_dir():
            try:
                folder.check_model_dir(directory)
                ready = "yes"
            except ModelError as exc:
                ready = f"no: {exc}"
            rows.append(_dir_row(directory, "trained by tutor", ready))
    ready = "yes" if openai_key else "no: set OPENAI_API_KEY"
    rows.append(ModelRow(openai_model or "(default)", "OpenAI API", None, None, "-", ready))
    return rows


def _pulled_rows() -> list[ModelRow]:
    from tutor.models.pulled import list_pulled

    return [
        ModelRow(f"{m.repo}:{m.file}", "pulled GGUF (tutor pull)", None, m.size, _short(m.path), "yes")
        for m in list_pulled()
    ]


def _dir_row(directory: Path, kind: str, ready: str) -> ModelRow:
    from tutor.models import folder

    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return ModelRow(directory.name, kind, folder.count_parameters(directory), size, _short(directory), ready)


def _short(path: Path) -> str:
    """The path with the home folder as `~`, so the column stays readable."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if home != "/" and text.startswith(home + os.sep) else text


def human_count(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def models_table(rows: list[ModelRow]) -> Table:
    from rich.table import Table  # not for `tutor --help`

    table = Table(title="Models (use the name with --model)")
    for column in ("name", "kind", "parameters", "size on disk", "ready", "path"):
        table.add_column(column, overflow="fold", no_wrap=column in ("name", "parameters", "size on disk"))
    for r in rows:
        cells = (r.name, r.kind, human_count(r.parameters), human_bytes(r.size), r.ready, r.path)
        table.add_row(*(Text(cell) for cell in cells))  # names are data: "[/bold]" in one is not markup
    return table


def models() -> None:
    """List the local models (shipped, pulled, trained) and the configured OpenAI model."""
    rows = collect_models(
        openai_model=os.environ.get("TUTOR_MODEL") or None,
        openai_key=bool(os.environ.get("OPENAI_API_KEY")),
        default_local=os.environ.get("TUTOR_LOCAL_MODEL") or None,
    )
    stdout_console().print(models_table(rows))
