"""`tutor quiz` and `tutor review`, and the quiz pieces `explain` and `history` use.

The functions are plain Typer commands; `tutor.cli` registers them on the app.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.errors import UsageError
from tutor.cli.console import print_notice, stderr_console, stdout_console

if TYPE_CHECKING:
    from tutor.history.recorder import HistoryRecorder
    from tutor.quiz.keeper import QuizKeeper


class BackendName(str, Enum):  # as `explain --backend`
    auto = "auto"
    openai = "openai"
    local = "local"


NoProfile = Annotated[
    bool, typer.Option("--no-profile", envvar="TUTOR_NO_PROFILE", help="Do not use or update your learner profile.")
]
NoHistory = Annotated[
    bool, typer.Option("--no-history", envvar="TUTOR_NO_HISTORY", help="Keep nothing: no history, no review cards.")
]


# --- pieces for `explain` and the lesson ------------------------------------------------------


def _history_conn(create: bool = False):
    """An open history connection, or None when there is none (or it cannot be opened: the
    lesson's own recorder says why). A damaged database is moved aside here, with a notice."""
    from tutor.errors import TutorError
    from tutor.history.db import connect

    err = stderr_console()
    try:
        return connect(create=create, notify=lambda message: print_notice(err, message))
    except TutorError:
        return None


def print_cards_due(err: Console) -> None:
    """One dim line when review cards are due; nothing otherwise, and never an error."""
    from tutor.quiz.review import ReviewDeck, due_phrase

    conn = _history_conn()
    if conn is None:
        return
    try:
        count = ReviewDeck(conn).due_count()
    except Exception:  # noqa: BLE001 - a hint must never break the command it decorates
        count = 0
    finally:
        conn.close()
    if count:
        err.print(f"[dim]{escape(due_phrase(count))}[/]")


def quiz_keeper_factory(recorder: HistoryRecorder | None, topic: str, *, profile: bool,
                        notify: Callable[[str], None]) -> Callable[[], QuizKeeper | None] | None:
    if recorder is None:
        return None

    def open_keeper() -> QuizKeeper | None:
        from tutor.quiz.keeper import QuizKeeper

        return QuizKeeper.open(lesson_id=recorder.lesson_id, topic=topic, profile=profile, notify=notify)

    return open_keeper


# --- commands -----------------------------------------------------------------------------------


def quiz(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ID|TOPIC", help="A lesson ID (or prefix), or a topic: a new lesson explains it first.")],
    questions: Annotated[int, typer.Option("--questions", "-n", min=1, max=10, help="How many questions.")] = 3,
    backend: Annotated[Optional[BackendName], typer.Option(help="Default: the backend that answered the lesson.")] = None,
    model: Annotated[Optional[str], typer.Option(help="As for explain.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
    no_history: NoHistory = False,
    no_profile: NoProfile = False,
) -> None:
    """Check questions on a lesson's explanation, graded, with a hint and a second try."""
    from tutor.cli.lesson import lesson_prompts, run_lesson
    from tutor.config import BACKENDS, load_settings
    from tutor.conversation import Conversation, clean_topic

    err = stderr_console()
    lesson = _find_lesson(target, err)
    if lesson is not None:
        if not lesson.latest_answer:
            raise UsageError(f"lesson {lesson.id} has no explanation yet: tutor resume {lesson.id} asks for it")
        same = backend is None and lesson.backend in BACKENDS
        settings = load_settings({
            "backend": backend.value if backend else (lesson.backend if same else None),
            "model": model or (lesson.model if same else None),
            "level": lesson.level,
        })
        conversation = lesson.conversation()
        err.print(f"[dim]quiz on lesson {lesson.id} · {escape(lesson.topic)}[/]")
    else:
        topic = clean_topic(target)
        settings = load_settings({"backend": backend.value if backend else None, "model": model})
        from tutor.cli.profile import apply_profile

        paragraph = apply_profile(settings, use=not no_profile, remember_level=False)
        conversation = Conversation.start(lesson_prompts(settings), topic, settings.level)
        if paragraph:
            conversation.set_system(conversation.messages[0]["content"] + "\n\n" + paragraph)
    run_lesson(
        ctx, settings, lesson_prompts(settings), conversation, no_feedback=False, plain=plain,
        history=not no_history, lesson_id=lesson.id if lesson is not None else None,
        profile=not no_profile, quiz_questions=questions,
    )


def _find_lesson(target: str, err: Console):
    """The stored lesson `target` names by ID prefix, else the latest one with that exact topic."""
    from tutor.history.store import ID_ALPHABET, ID_LENGTH, HistoryStore

    store = HistoryStore.open(create=False, notify=lambda message: print_notice(err, message))
    if store is None:
        return None
    try:
        wanted = target.strip().lower()
        if wanted and len(wanted) <= ID_LENGTH and all(ch in ID_ALPHABET for ch in wanted):
            try:
                return store.load(store.resolve(wanted))
            except UsageError:
                pass  # not an ID: a topic
        topic = " ".join(target.split()).lower()
        for summary in store.lessons(target.strip(), limit=50):
            if summary.topic.lower() == topic:
                return store.load(summary.id)
        return None
    finally:
        store.close()


def review(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option(help="Only cards whose topic or concept contains TOPIC.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Ask at most N cards.")] = 20,
    backend: Annotated[Optional[BackendName], typer.Option(help="Grades the answers; as for explain.")] = None,
    model: Annotated[Optional[str], typer.Option(help="As for explain.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
) -> None:
    """Ask the review cards that are due (spaced repetition, FSRS), grade and reschedule them."""
    from tutor.cli.lesson import Dependencies, _line_reader, _renderer
    from tutor.cli.models import RichLoadProgress
    from tutor.config import load_settings
    from tutor.lesson import Terminal
    from tutor.prompts import PromptSet
    from tutor.quiz.lesson_quiz import TerminalQuizIO
    from tutor.quiz.review import ReviewDeck
    from tutor.quiz.review_session import run_review
    from tutor.quiz.session import QuizSession

    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    out, err = deps.out or stdout_console(), stderr_console()
    conn = _history_conn()
    if conn is None:
        err.print("nothing to review: no quiz has made review cards yet (/quiz in a lesson, or tutor quiz TOPIC)", soft_wrap=True)
        return
    try:
        deck = ReviewDeck(conn)
        cards = deck.due(topic=topic, limit=limit)
        if not cards:
            upcoming = deck.next_due()
            when = f"; the next card is due {upcoming.astimezone():%Y-%m-%d %H:%M}" if upcoming else ""
            scope = f" on {topic!r}" if topic else ""
            err.print(f"nothing to review{escape(scope)}: no cards are due{escape(when)}", soft_wrap=True)
            return
        settings = load_settings({"backend": backend.value if backend else None, "model": model})
        if deps.build_backend is None:
            from tutor.backends.select import build_backend
        else:
            build_backend = deps.build_backend
        progress = RichLoadProgress(console=err)
        try:
            chosen = build_backend(settings.backend, settings, notify=lambda m: print_notice(err, m), progress=progress)
        finally:
            progress.close()
        terminal = Terminal(out=out, err=err, render=_renderer(out, err, plain=plain, mirror=False),
                            read_line=_line_reader(err))
        session = QuizSession(chosen, prompts=PromptSet(), options=settings.options, io=TerminalQuizIO(terminal))
        result = run_review(session, deck, cards)
    finally:
        conn.close()
    upcoming = f"; next card due {result.next_due.astimezone():%Y-%m-%d %H:%M}" if result.next_due else ""
    err.print(f"[dim]reviewed {result.reviewed} card{'s' if result.reviewed != 1 else ''}, {result.correct} right{escape(upcoming)}[/]")


