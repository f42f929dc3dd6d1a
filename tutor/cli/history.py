"""`tutor history`, `show`, `export` and `delete`: the stored lessons (`resume` starts a lesson,
so it is in `tutor.cli.lesson`, and borrows the lesson loading and printing here).

The functions are plain Typer commands; `tutor.cli.app` registers them. Lesson IDs are six
lowercase characters, and any unique prefix of one works.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.cli.deps import consoles, stdin_is_tty
from tutor.cli.storage import open_store, print_cards_due
from tutor.errors import UsageError
from tutor.display import print_notice

if TYPE_CHECKING:
    from tutor.history.records import StoredLesson

NO_LESSONS = 'no lessons yet: start one with  tutor explain "a topic"'
TOPIC_SHOWN = 200  # characters of a topic in tables and headers; export keeps it whole
STATUS_STYLES = {"done": "green", "interrupted": "yellow", "error": "red", "streaming": "cyan"}

LessonId = Annotated[str, typer.Argument(metavar="ID", help="A lesson ID from `tutor history`, or a unique prefix of one.")]
LatestLessonId = Annotated[
    Optional[str], typer.Argument(metavar="ID", help="A lesson ID or prefix; the latest lesson when left out.")
]


class ExportFormat(str, Enum):
    md = "md"
    json = "json"


def load_lesson(err: Console, prefix: str | None) -> StoredLesson:
    """The lesson `prefix` names; the most recent one when None. Damaged parts are named in a
    notice, and the rest is returned."""
    store = open_store(err)
    if store is None:
        raise UsageError(NO_LESSONS)
    with store:
        lesson_id = store.resolve(prefix) if prefix is not None else store.latest_id()
        if lesson_id is None:
            raise UsageError(NO_LESSONS)
        lesson = store.load(lesson_id)
    notice = lesson.damage_notice()
    if notice is not None:
        print_notice(err, notice)
    return lesson


def short_topic(topic: str) -> str:
    """A topic for one table cell or header line: a huge one would fill the screen."""
    if len(topic) <= TOPIC_SHOWN:
        return topic
    return f"{topic[: TOPIC_SHOWN - 1].rstrip()}… ({len(topic):,} characters)"


def print_markdown(text: str, out: Console, *, plain: bool = False) -> None:
    """Rendered in a terminal; the Markdown source when piped or `plain` (terminal-safe both ways)."""
    if plain or not out.is_terminal:
        from tutor.safe_text import safe_text

        text = safe_text(text)
        out.file.write(text if text.endswith("\n") else text + "\n")
        out.file.flush()
        return
    from tutor.render import render_markdown

    render_markdown(text, out)


def answers_phrase(count: int) -> str:
    return f"{count} answer" + ("" if count == 1 else "s")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def history(
    ctx: typer.Context,
    text: Annotated[Optional[str], typer.Argument(help="Only lessons whose topic, feedback or answers contain TEXT.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N lessons.")] = 20,
) -> None:
    """List recent lessons, newest first."""
    from rich.table import Table

    out, err = consoles(ctx)
    store = open_store(err)
    if store is None:
        err.print(f"[dim]{escape(NO_LESSONS)}[/]")
        return
    with store:
        lessons = store.lessons(text, limit=limit)
    if not lessons:
        err.print(f"[dim]{escape(NO_LESSONS if text is None else f'no lesson matches {text!r}')}[/]")
        return
    table = Table(title_justify="left", header_style="bold")
    table.add_column("ID", style="bold cyan", no_wrap=True)
    table.add_column("Updated", no_wrap=True)
    table.add_column("Topic", overflow="fold")
    table.add_column("Answers", justify="right")
    table.add_column("Last answer", no_wrap=True)
    table.add_column("Model", style="dim")
    for lesson in lessons:
        status = lesson.status or "none"
        table.add_row(
            lesson.id,
            _when(lesson.updated_at),
            escape(short_topic(lesson.topic)),
            str(lesson.turns),
            f"[{STATUS_STYLES.get(status, 'dim')}]{status}[/]",
            escape(f"{lesson.backend}:{lesson.model}"),
        )
    out.print(table)
    print_cards_due(err)


def show(
    ctx: typer.Context,
    lesson_id: LatestLessonId = None,
    all_turns: Annotated[bool, typer.Option("--all", help="Every answer and the feedback between them.")] = False,
) -> None:
    """Show a lesson's latest explanation (rendered in a terminal, Markdown when piped)."""
    from tutor.history.export import to_markdown

    out, err = consoles(ctx)
    lesson = load_lesson(err, lesson_id)
    if all_turns:
        text = to_markdown(lesson)
    else:
        text = lesson.latest_answer
        if text is None:
            raise UsageError(f"lesson {lesson.id} has no explanation yet: tutor resume {lesson.id} asks again")
    err.print(f"[dim]{lesson.id} · {escape(short_topic(lesson.topic))} · {answers_phrase(len(lesson.turns))} · {_when(lesson.updated_at)}[/]")
    print_markdown(text, out)


def export(
    ctx: typer.Context,
    lesson_id: LatestLessonId = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")
    ] = None,
    format: Annotated[  # noqa: A002 - the option is called --format
        Optional[ExportFormat], typer.Option("--format", "-f", help="md or json (default: from FILE's suffix, else md).")
    ] = None,
) -> None:
    """Write a lesson as Markdown (topic, then each feedback and answer) or as JSON."""
    from tutor.history.export import to_json, to_markdown
    from tutor.files import write_text

    out, err = consoles(ctx)
    lesson = load_lesson(err, lesson_id)
    chosen = format.value if format else ("json" if output and output.suffix.lower() == ".json" else "md")
    text = to_json(lesson) if chosen == "json" else to_markdown(lesson)
    if output is None:
        if out.is_terminal:  # shown, so made safe; a pipe or file gets the lesson byte for byte
            from tutor.safe_text import safe_text

            text = safe_text(text)
        out.file.write(text)
        out.file.flush()
        return
    write_text(output, text)  # atomic: a failed write leaves no partial file
    err.print(f"[green]exported[/] {lesson.id} to {escape(str(output))}")


def delete(
    ctx: typer.Context,
    lesson_id: LessonId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; needed to delete without a terminal.")] = False,
) -> None:
    """Delete a lesson and all its answers (asks first on a terminal)."""
    _, err = consoles(ctx)
    store = open_store(err)
    if store is None:
        raise UsageError(NO_LESSONS)
    with store:
        full_id = store.resolve(lesson_id)
        if not yes:
            _confirm_delete(ctx, err, store.load(full_id))
        topic = store.delete(full_id)  # reads only the topic: a damaged lesson can go too
    err.print(f"[green]deleted[/] {full_id} · {escape(short_topic(topic or ''))}")


def _confirm_delete(ctx: typer.Context, err: Console, lesson: StoredLesson) -> None:
    """Ask on a terminal; without one, refuse: nobody is there to say yes."""
    if not stdin_is_tty(ctx):
        raise UsageError(f"tutor delete {lesson.id} asks first; without a terminal, add --yes")
    err.print(
        f"Delete lesson {lesson.id} · {escape(short_topic(lesson.topic))} · {answers_phrase(len(lesson.turns))}? \\[y/N] ",
        end="", highlight=False,
    )
    try:
        reply = input().strip().lower()
    except (EOFError, KeyboardInterrupt):
        err.print()
        reply = ""
    if reply not in ("y", "yes"):
        err.print(f"[dim]kept {lesson.id}[/]")
        raise typer.Exit(1)
