"""`tutor quiz` (check questions on a lesson) and `tutor review` (the due review cards).

The functions are plain Typer commands; `tutor.cli.app` registers them.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.cli.choices import BackendChoice
from tutor.cli.console import stderr_console
from tutor.cli.deps import backend_builder, consoles
from tutor.cli.lesson import lesson_prompts, run_lesson
from tutor.cli.profile import apply_profile
from tutor.cli.storage import history_conn, open_store
from tutor.cli.terminal import line_reader, renderer
from tutor.errors import UsageError
from tutor.display import print_notice

NoProfile = Annotated[
    bool, typer.Option("--no-profile", envvar="TUTOR_NO_PROFILE", help="Do not use or update your learner profile.")
]
NoHistory = Annotated[
    bool, typer.Option("--no-history", envvar="TUTOR_NO_HISTORY", help="Keep nothing: no history, no review cards.")
]


def quiz(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ID|TOPIC", help="A lesson ID (or prefix), or a topic: a new lesson explains it first.")],
    questions: Annotated[int, typer.Option("--questions", "-n", min=1, max=10, help="How many questions.")] = 3,
    backend: Annotated[Optional[BackendChoice], typer.Option(help="Default: the backend that answered the lesson.")] = None,
    model: Annotated[Optional[str], typer.Option(help="As for explain.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
    no_history: NoHistory = False,
    no_profile: NoProfile = False,
) -> None:
    """Check questions on a lesson's explanation, graded, with a hint and a second try."""
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
    from tutor.history.store import ID_ALPHABET, ID_LENGTH

    store = open_store(err)
    if store is None:
        return None
    with store:
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


def review(
    ctx: typer.Context,
    topic: Annotated[Optional[str], typer.Option(help="Only cards whose topic or concept contains TOPIC.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Ask at most N cards.")] = 20,
    backend: Annotated[Optional[BackendChoice], typer.Option(help="Grades the answers; as for explain.")] = None,
    model: Annotated[Optional[str], typer.Option(help="As for explain.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
) -> None:
    """Ask the review cards that are due (spaced repetition, FSRS), grade and reschedule them."""
    from tutor.cli.progress import RichLoadProgress
    from tutor.config import load_settings
    from tutor.lesson_io import Terminal
    from tutor.prompts import PromptSet
    from tutor.quiz.lesson_quiz import TerminalQuizIO
    from tutor.quiz.review import ReviewDeck
    from tutor.quiz.review_session import run_review
    from tutor.quiz.session import QuizSession

    out, err = consoles(ctx)
    conn = history_conn()
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
        build_backend = backend_builder(ctx)
        with RichLoadProgress(console=err) as progress:
            chosen = build_backend(settings.backend, settings, notify=lambda m: print_notice(err, m), progress=progress)
        terminal = Terminal(out=out, err=err, render=renderer(out, err, plain=plain, mirror=False),
                            read_line=line_reader(err))
        session = QuizSession(chosen, prompts=PromptSet(), options=settings.options, io=TerminalQuizIO(terminal))
        result = run_review(session, deck, cards)
    finally:
        conn.close()
    upcoming = f"; next card due {result.next_due.astimezone():%Y-%m-%d %H:%M}" if result.next_due else ""
    err.print(f"[dim]reviewed {result.reviewed} card{'s' if result.reviewed != 1 else ''}, {result.correct} right{escape(upcoming)}[/]")
