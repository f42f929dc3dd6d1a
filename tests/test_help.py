"""Plain `--help`: real metavars, and options and commands grouped under their panels."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from tutor.cli.app import app

COMMANDS = ["explain", "config", "train", "sample", "models", "history", "show", "resume", "export", "delete", "serve"]


def help_of(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_no_python_type_names_in_any_help(command):
    text = help_of(command)
    assert not re.search(r"<[a-z]|list\[", text), text


def test_explain_options_have_real_metavars_and_the_topic_is_named():
    text = help_of("explain")
    assert "Usage: root explain [OPTIONS] TOPIC" in text
    for shown in ("--notes PATH", "--prompts PATH", "--model TEXT", "--max-tokens N", "--temperature NUMBER",
                  "--backend auto|openai|local"):
        assert shown in text
    assert "  TOPIC  What to learn" in text


def test_train_data_argument_and_paths():
    text = help_of("train")
    assert "[OPTIONS] DATA..." in text
    assert "  DATA...  Text files" in text
    assert "-o, --out PATH" in text


def test_every_rich_help_panel_is_a_heading_in_plain_help():
    """The panels given in the code are not dead: each one heads its options or commands."""
    group = typer.main.get_command(app)
    import click

    ctx = click.Context(group)
    text = help_of()
    for name in ("Models", "History", "Serve"):
        assert f"\n{name}:\n" in text
    for name in COMMANDS:
        command = group.get_command(ctx, name)
        panels = {p.rich_help_panel for p in command.params if isinstance(getattr(p, "rich_help_panel", None), str)}
        page = help_of(name)
        for panel in panels:
            assert f"\n{panel}:\n" in page, (name, panel)


def test_options_without_a_panel_stay_under_options():
    text = help_of("history")
    assert "Options:\n  -n, --limit N  Show at most N lessons." in text
