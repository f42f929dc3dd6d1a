"""`tutor history`, `show`, `resume`, `export` and `delete`: the stored lessons.

The functions are plain Typer commands; `tutor.cli` registers them on the app. Lesson IDs are
six lowercase characters, and any unique prefix of one works.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.config import BACKENDS
from tutor.errors import UsageError
from tutor.cli.console import stderr_console, stdout_console

if TYPE_CHECKING:
    from tutor.history.records import StoredLesson
    from tutor.history.store import HistoryStore

NO_LESSONS = 'no lessons yet: start one with  tutor explain "a topic"'
TOPIC_SHOWN = 200  # characters of a topic in tables and headers; export keeps it whole
STATUS_STYLES = {"done": "green", "interrupted": "yellow", "error": "red", "streaming": "cyan"}

LessonId = Annotated[str, typer.Argument(metavar="ID", help="A lesson ID from `tutor history`, or a unique prefix of one.")]
LatestLessonId = Annotated[
    Optional[str], typer.Argument(metavar="ID", help="A lesson ID or prefix; the latest lesson when left out.")
]


class BackendName(str, Enum):  # as `explain --backend`
    auto = "auto"
    openai = "openai"
    local = "local"


class ExportFormat(str, Enum):
    md = "md"
    json = "json"


def _consoles(ctx: typer.Context) -> tuple[Console, Console]:
    from tutor.cli.lesson import Dependencies

    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    return deps.out or stdout_console(), stderr_console()


def _open(err: Console) -> HistoryStore | None:
    """The history store, or None when nothing was ever stored (it is not created by reading)."""
    from tutor.history.store import HistoryStore
    from tutor.cli.console import print_notice

    return HistoryStore.open(create=False, notify=lambda message: print_notice(err, message))


def _load(err: Console, prefix: str | None) -> StoredLesson:
    """The lesson `prefix` names; the most recent one when None. Damaged parts are named in a
    notice, and the rest is returned."""
    from tutor.cli.console import print_notice

    store = _open(err)
    if store is None:
        raise UsageError(NO_LESSONS)
    try:
        lesson_id = store.resolve(prefix) if prefix is not None else store.latest_id()
        if lesson_id is None:
            raise UsageError(NO_LESSONS)
        lesson = store.load(lesson_id)
    finally:
        store.close()
    notice = lesson.damage_notice()
    if notice is not None:
        print_notice(err, notice)
    return lesson


def short_topic(topic: str) -> str:
    """A topic for one table cell or header line: a huge one would fill the screen."""
    if len(topic) <= TOPIC_SHOWN:
        return topic
    return f"{topic[: TOPIC_SHOWN - 1].rstrip()}… ({len(topic):,} characters)"


def _print_markdown(text: str, out: Console, *, plain: bool = False) -> None:
    """Rendered in a terminal; the Markdown source when piped or `plain` (terminal-safe both ways)."""
    if plain or not out.is_terminal:
        from tutor.safe_text import safe_text

        text = safe_text(text)
        out.file.write(text if text.endswith("\n") else text + "\n")
        out.file.flush()
        return
    try:
        from tutor.render import render_markdown
    except ImportError:
        from rich.markdown import Markdown

        out.print(Markdown(text))
    else:
        render_markdown(text, out)


def _answers(count: int) -> str:
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

    out, err = _consoles(ctx)
    store = _open(err)
    if store is None:
        err.print(f"[dim]{escape(NO_LESSONS)}[/]")
        return
    try:
        lessons = store.lessons(text, limit=limit)
    finally:
        store.close()
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
    from tutor.cli.quiz import print_cards_due

    print_cards_due(err)


def show(
    ctx: typer.Context,
    lesson_id: LatestLessonId = None,
    all_turns: Annotated[bool, typer.Option("--all", help="Every answer and the feedback between them.")] = False,
) -> None:
    """Show a lesson's latest explanation (rendered in a terminal, Markdown when piped)."""
    from tutor.history.export import to_markdown

    out, err = _consoles(ctx)
    lesson = _load(err, lesson_id)
    if all_turns:
        text = to_markdown(lesson)
    else:
        text = lesson.latest_answer
        if text is None:
            raise UsageError(f"lesson {lesson.id} has no explanation yet: tutor resume {lesson.id} asks again")
    err.print(f"[dim]{lesson.id} · {escape(short_topic(lesson.topic))} · {_answers(len(lesson.turns))} · {_when(lesson.updated_at)}[/]")
    _print_markdown(text, out)


def resume(
    ctx: typer.Context,
    lesson_id: LatestLessonId = None,
    backend: Annotated[
        Optional[BackendName], typer.Option(help="Default: the backend that answered last.")
    ] = None,
    model: Annotated[Optional[str], typer.Option(help="Default: the model that answered last.")] = None,
    no_feedback: Annotated[bool, typer.Option("--no-feedback", help="Answer a pending request, then exit.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", envvar="TUTOR_NO_HISTORY", help="Do not store the new answers.")
    ] = False,
) -> None:
    """Go back to a lesson: see its latest explanation and carry on giving feedback."""
    from tutor.cli.lesson import lesson_prompts, run_lesson
    from tutor.config import load_settings
    from tutor.cli.console import print_notice

    out, err = _consoles(ctx)
    lesson = _load(err, lesson_id)
    same_backend = backend is None and lesson.backend in BACKENDS
    settings = load_settings(
        {
            "backend": backend.value if backend else (lesson.backend if same_backend else None),
            "model": model or (lesson.model if same_backend else None),
            "level": lesson.level,
        }
    )
    prompt_set = lesson_prompts(settings)
    conversation = lesson.conversation()
    err.print(f"[dim]resuming {lesson.id} · {escape(short_topic(lesson.topic))} · {_answers(conversation.answer_count)}[/]")
    if prompt_set.fingerprint() != lesson.prompts:
        print_notice(err, "the prompts changed since this lesson began; new answers use the current ones")
    grounding = None
    if lesson.notes:
        from tutor.cli.notes import restore_grounding

        feedbacks = [turn.feedback for turn in lesson.turns if turn.feedback is not None and not turn.retry]
        grounding = restore_grounding(lesson.notes, lesson.topic, feedbacks, prompt_set, err)
    if conversation.latest_answer:
        _print_markdown(conversation.latest_answer, out, plain=plain)
        ended = next((turn for turn in reversed(lesson.turns) if turn.answer), None)
        if ended is not None and ended.status in ("interrupted", "error"):
            err.print("[dim](interrupted)[/]" if ended.status == "interrupted" else "[dim](failed)[/]")
    last_feedback = lesson.turns[-1].feedback if lesson.turns else None
    run_lesson(
        ctx, settings, prompt_set, conversation,
        no_feedback=no_feedback, plain=plain, history=not no_history, lesson_id=lesson.id,
        grounding=grounding, notes=lesson.notes or None, last_feedback=last_feedback,
    )


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
    from tutor.lesson import write_markdown

    out, err = _consoles(ctx)
    lesson = _load(err, lesson_id)
    chosen = format.value if format else ("json" if output and output.suffix.lower() == ".json" else "md")
    text = to_json(lesson) if chosen == "json" else to_markdown(lesson)
    if output is None:
        if out.is_terminal:  # shown, so made safe; a pipe or file gets the lesson byte for byte
            from tutor.safe_text import safe_text

            text = safe_text(text)
        out.file.write(text)
        out.file.flush()
        return
    write_markdown(output, text)  # atomic: a failed write leaves no partial file
    err.print(f"[green]exported[/] {lesson.id} to {escape(str(output))}")


def delete(
    ctx: typer.Context,
    lesson_id: LessonId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; needed to delete without a terminal.")] = False,
) -> None:
    """Delete a lesson and all its answers (asks first on a terminal)."""
    _, err = _consoles(ctx)
    store = _open(err)
    if store is None:
        raise UsageError(NO_LESSONS)
    try:
        full_id = store.resolve(lesson_id)
        if not yes:
            _confirm_delete(ctx, err, store.load(full_id))
        topic = store.delete(full_id)  # reads only the topic: a damaged lesson can go too
    finally:
        store.close()
    err.print(f"[green]deleted[/] {full_id} · {escape(short_topic(topic or ''))}")


def _confirm_delete(ctx: typer.Context, err: Console, lesson: StoredLesson) -> None:
    """Ask on a terminal; without one, refuse: nobody is there to say yes."""
    import sys

    from tutor.cli.lesson import Dependencies

    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    stdin_is_tty = deps.stdin_is_tty or sys.stdin.isatty
    if not stdin_is_tty():
        raise UsageError(f"tutor delete {lesson.id} asks first; without a terminal, add --yes")
    err.print(
        f"Delete lesson {lesson.id} · {escape(short_topic(lesson.topic))} · {_answers(len(lesson.turns))}? \\[y/N] ",
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
