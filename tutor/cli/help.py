"""Plain `--help` pages: real metavars (PATH, TEXT, N) and options grouped under headings.

The app uses Click's plain help because Typer's Rich help imports enough to take `tutor --help`
past 0.1 s. Plain help ignores `rich_help_panel=`, and Typer 0.29 writes types as `<str>` and
`<list[Path]>`; these classes read the panels and the parameter types themselves.
"""

from __future__ import annotations

import typing
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # Typer 0.29 vendors Click; importing the real one would cost --help 5 ms
    import click

DEFAULT_SECTION = "Options"
METAVARS = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}


def _panel(item: Any) -> str | None:
    """An explicit `rich_help_panel=` (Typer keeps a placeholder object when none was given)."""
    panel = getattr(item, "rich_help_panel", None)
    return panel if isinstance(panel, str) else None


def metavar(param: click.Parameter) -> str | None:
    """What goes after an option or stands for an argument: PATH, TEXT, N, NUMBER or the
    choices (a|b|c); None for flags. An explicit `metavar=` wins."""
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False):
        return None
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "|".join(str(member.value) for member in annotation)
    if annotation in METAVARS:
        return METAVARS[annotation]
    click_type = getattr(param, "type", None)  # Typer before 0.29 built Click types
    kind = type(click_type).__name__
    if kind == "Choice":
        return "|".join(str(choice) for choice in click_type.choices)  # type: ignore[union-attr]
    named = {"Path": "PATH", "IntParamType": "N", "IntRange": "N", "FloatParamType": "NUMBER", "FloatRange": "NUMBER"}
    if kind in named:
        return named[kind]
    return "TEXT" if param.param_type_name == "argument" else "VALUE"


def argument_name(param: click.Parameter) -> str:
    name = param.metavar or (param.name or "").upper()
    return name + ("..." if param.nargs != 1 else "")


def _option_name(param: click.Parameter) -> str:
    names = ", ".join(sorted(param.opts, key=len))
    if param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    shown = metavar(param)
    return f"{names} {shown}" if shown else names


class TutorCommand(TyperCommand):
    """A command whose plain help shows metavars and groups options by their panel."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments: list[tuple[str, str]] = []
        sections: dict[str, list[tuple[str, str]]] = {DEFAULT_SECTION: []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                arguments.append((argument_name(param), record[1]))
            else:
                section = _panel(param) or DEFAULT_SECTION
                sections.setdefault(section, []).append((_option_name(param), record[1]))
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class GroupedHelpGroup(TyperGroup):
    """Lists the commands under their panels ("Models", "History" ...) in plain help."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in commands if command is not None and not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        sections: dict[str, list[tuple[str, str]]] = {"Commands": []}
        for name, command in shown:
            sections.setdefault(_panel(command) or "Commands", []).append((name, command.get_short_help_str(limit)))
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
