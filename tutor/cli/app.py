"""The `tutor` app: the one place where a TutorError becomes a message and an exit code, and
where every command is registered, under the heading `tutor --help` lists it in.

Commands live in one module per family (lesson, history, quiz, profile, models, pull, notes,
train, serve); each imports its heavy libraries inside the command, so `--help` stays instant.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Optional

import typer
from typer.exceptions import TyperException

from tutor import __version__
from tutor.cli import history, lesson, models, profile, pull, quiz, serve, train
from tutor.cli.choices import BackendChoice
from tutor.cli.console import debug_requested, stderr_console, stdout_console
from tutor.cli.help import GroupedHelpGroup, TutorCommand
from tutor.errors import EXIT_INTERRUPTED, TutorError
from tutor.display import print_error


class TutorGroup(GroupedHelpGroup):
    """Turns domain errors and Ctrl-C into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        err = stderr_console()
        try:
            return super().invoke(ctx)
        except TutorError as exc:
            print_error(err, exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("[dim]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort, TyperException, BrokenPipeError):
            raise  # click ends a closed pipe (`tutor ... | head`) quietly
        except Exception as exc:
            if debug_requested():
                raise
            print_error(err, f"unexpected {type(exc).__name__}: {exc} (set TUTOR_DEBUG=1 for details)")
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=TutorGroup,
    help="A terminal tutor: explains any topic like the best professor, then revises from your feedback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Click's plain help: typer's Rich help imports markdown-it, pygments and rich.traceback,
    # which alone took `tutor --help` past 0.2 s.
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tutor {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Explain any topic, stream it as Markdown, and revise it from your feedback."""


def config(
    backend: Annotated[Optional[BackendChoice], typer.Option(help="As for explain.")] = None,
    model: Annotated[Optional[str], typer.Option(help="As for explain.")] = None,
) -> None:
    """Show the effective settings and where each one comes from."""
    from rich.table import Table

    from tutor.config import ENV_NAMES, first_backend, load_settings

    settings = load_settings({"backend": backend.value if backend else None, "model": model})
    table = Table(title=f"tutor {__version__} settings", title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("from", style="dim")
    table.add_column("variable", style="dim")
    shown = {
        "backend": f"{settings.backend} (answers with {first_backend(settings)})",
        "openai_model": settings.openai_model,
        "local_model": settings.local_model,
        "api_key": settings.masked_key,
        "base_url": settings.base_url or "(OpenAI)",
        "level": settings.level,
        "device": settings.device,
        "prompts_dir": str(lesson.lesson_prompts(settings).directory),
    }
    for name, value in shown.items():
        table.add_row(name, value, settings.sources.get(name, "default"), ENV_NAMES[name])
    stdout_console().print(table)


# Every command, under the heading `tutor --help` lists it in (None: "Commands"), in help order.
COMMANDS_BY_PANEL: dict[Optional[str], list[Callable[..., None]]] = {
    None: [lesson.explain, config],
    "Models": [train.train, train.sample, pull.pull, models.models],
    "History": [history.history, history.show, lesson.resume, history.export, history.delete],
    "Practice": [quiz.quiz, quiz.review, profile.profile],
    "Serve": [serve.serve],
}

app.callback()(root)
for panel, commands in COMMANDS_BY_PANEL.items():
    for command in commands:
        if panel is None:
            app.command(cls=TutorCommand)(command)
        else:
            app.command(cls=TutorCommand, rich_help_panel=panel)(command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
