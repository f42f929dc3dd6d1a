"""`tutor explain` and `tutor resume`: the commands that start a lesson, and `run_lesson`, which
builds the backend and runs the feedback loop for them (and for `tutor quiz`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer
from rich.markup import escape

from tutor.cli.choices import BackendChoice, DeviceChoice, LevelChoice
from tutor.cli.console import stderr_console
from tutor.cli.deps import backend_builder, consoles, dependencies, stdin_is_tty
from tutor.cli.history import LatestLessonId, answers_phrase, load_lesson, print_markdown, short_topic
from tutor.cli.profile import apply_profile, feedback_observer
from tutor.cli.storage import print_cards_due
from tutor.cli.terminal import line_reader, renderer
from tutor.display import print_notice

if TYPE_CHECKING:
    from tutor.config import Settings
    from tutor.conversation import Conversation
    from tutor.history.recorder import HistoryRecorder
    from tutor.notes import Grounding
    from tutor.prompts import PromptSet
    from tutor.quiz.keeper import QuizKeeper

# Said once per lesson on a local model: a small model explains fluently even where it is wrong.
OFFLINE_CAVEAT = (
    "offline answers come from a small local model and can contain mistakes; "
    "--notes grounds them in your own material"
)


SAMPLING = "Sampling"
MODEL = "Model"
OUTPUT = "Output"


def explain(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help='What to learn, e.g. "Transformers in ML".')],
    backend: Annotated[
        Optional[BackendChoice],
        typer.Option(help="auto: OpenAI when a key is set, else the local model.", rich_help_panel=MODEL),
    ] = None,
    model: Annotated[
        Optional[str],
        typer.Option(help="OpenAI model name, or local: qwen-1.5b, qwen-0.5b, smollm2, a pulled model, a .gguf file, a model folder.", rich_help_panel=MODEL),
    ] = None,
    device: Annotated[Optional[DeviceChoice], typer.Option(help="Local model device.", rich_help_panel=MODEL)] = None,
    level: Annotated[Optional[LevelChoice], typer.Option(help="Your level (default: intermediate).")] = None,
    temperature: Annotated[Optional[float], typer.Option(help="0 = deterministic, up to 2.", rich_help_panel=SAMPLING)] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Longest answer, in tokens.", rich_help_panel=SAMPLING)] = None,
    top_p: Annotated[Optional[float], typer.Option(help="Nucleus sampling, in (0, 1].", rich_help_panel=SAMPLING)] = None,
    top_k: Annotated[Optional[int], typer.Option(help="Local only: sample from the k likeliest tokens.", rich_help_panel=SAMPLING)] = None,
    repetition_penalty: Annotated[Optional[float], typer.Option(help="Local only: >1 discourages repeating the answer so far and earlier answers (never the question or notes).", rich_help_panel=SAMPLING)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Make sampling reproducible.", rich_help_panel=SAMPLING)] = None,
    no_feedback: Annotated[bool, typer.Option("--no-feedback", help="One answer, then exit.", rich_help_panel=OUTPUT)] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.", rich_help_panel=OUTPUT)] = False,
    prompts: Annotated[
        Optional[Path], typer.Option("--prompts", help="Folder with system.md, explain.md, revise.md.", rich_help_panel=OUTPUT)
    ] = None,
    no_history: Annotated[
        bool,
        typer.Option("--no-history", envvar="TUTOR_NO_HISTORY", help="Keep nothing in the lesson history.", rich_help_panel=OUTPUT),
    ] = False,
    notes: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--notes",
            help="Ground the answer in your .md/.txt notes (files or folders; repeatable; also TUTOR_NOTES).",
            show_default=False,
        ),
    ] = None,
    socratic: Annotated[
        bool, typer.Option("--socratic", help="Lead with questions and hints instead of explaining (/socratic toggles).")
    ] = False,
    no_profile: Annotated[
        bool, typer.Option("--no-profile", envvar="TUTOR_NO_PROFILE", help="Do not use or update your learner profile.", rich_help_panel=OUTPUT)
    ] = False,
) -> None:
    """Explain TOPIC, then revise the explanation from your feedback until you are done."""
    from tutor.config import load_settings
    from tutor.conversation import Conversation, clean_topic

    topic = clean_topic(topic)  # an empty topic fails before any model loads
    settings = load_settings(
        {
            "backend": backend.value if backend else None,
            "model": model,
            "device": device.value if device else None,
            "level": level.value if level else None,
            "prompts_dir": prompts,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "top_p": top_p,
            "top_k": top_k,
            "repetition_penalty": repetition_penalty,
            "seed": seed,
        }
    )
    prompt_set = lesson_prompts(settings)
    from tutor.cli.notes import lesson_grounding

    grounding, notes_context, notes_used = lesson_grounding(notes, prompt_set, topic, stderr_console())
    profile = apply_profile(settings, use=not no_profile, remember_level=not no_history)
    conversation = Conversation.start(prompt_set, topic, settings.level, notes=notes_context)
    if socratic:
        from tutor.socratic import start_request

        conversation.add_request(start_request(prompt_set, topic, settings.level))
        conversation.messages.pop(-2)  # the Socratic opening replaces the explain request
    if profile:
        conversation.set_system(conversation.messages[0]["content"] + "\n\n" + profile)
    if not no_history:
        print_cards_due(stderr_console())
    run_lesson(
        ctx, settings, prompt_set, conversation,
        no_feedback=no_feedback, plain=plain, history=not no_history, grounding=grounding,
        notes=notes_used, socratic=socratic, profile=not no_profile,
    )


def lesson_prompts(settings: Settings) -> PromptSet:
    """The prompts for a lesson: `--prompts`, else the variant measured best for the model."""
    from tutor.config import first_backend
    from tutor.prompts import PromptSet, select_prompts_dir

    return PromptSet(
        select_prompts_dir(
            settings.prompts_dir, answering_backend=first_backend(settings), local_model=settings.local_model
        )
    )


def run_lesson(
    ctx: typer.Context,
    settings: Settings,
    prompt_set: PromptSet,
    conversation: Conversation,
    *,
    no_feedback: bool,
    plain: bool,
    history: bool,
    lesson_id: Optional[str] = None,
    grounding: Optional[Grounding] = None,
    notes: Optional[list[str]] = None,
    last_feedback: Optional[str] = None,
    socratic: bool = False,
    profile: bool = True,
    quiz_questions: Optional[int] = None,
) -> None:
    """Build the backend and run the feedback loop (`explain`, and `resume` with `lesson_id`).

    Args:
        history: record the lesson in the history database (`--no-history` turns it off).
        lesson_id: the stored lesson new turns belong to; None starts a new one.
        grounding: notes retrieval for `--notes`; feedback retrieves more passages.
        notes: the notes paths, stored with a new lesson so that resume restores them.
        last_feedback: the feedback the latest answer came from, for `/retry` after resume.
        socratic: start the lesson in Socratic mode.
        profile: learn from this lesson's feedback and quizzes (only when `history` is on).
        quiz_questions: `tutor quiz`: quiz on the explanation instead of the feedback loop.
    """
    import time

    from tutor.cli.progress import RichLoadProgress
    from tutor.history.recorder import open_recorder
    from tutor.lesson import Lesson
    from tutor.lesson_io import Terminal

    build_backend = backend_builder(ctx)
    out, err = consoles(ctx)
    clock = dependencies(ctx).clock or time.perf_counter
    notify = lambda message: print_notice(err, message)  # noqa: E731
    progress = RichLoadProgress(console=err)
    load_seconds: list[float] = []  # the latest load, until an answer's footer takes it

    def backend_named(name: str):
        started = clock()
        with progress:  # a failed model conversion must not leave its spinner running
            backend = build_backend(name, settings, notify=notify, progress=progress)
        load_seconds[:] = [clock() - started]
        return backend

    def take_load_seconds() -> Optional[float]:
        return load_seconds.pop() if load_seconds else None

    chosen = backend_named(settings.backend)
    if chosen.name == "local" and grounding is None:
        notify(OFFLINE_CAVEAT)
    recorder = (
        open_recorder(prompt_set.fingerprint(), notify=notify, lesson_id=lesson_id, notes=notes) if history else None
    )
    interactive = not no_feedback and stdin_is_tty(ctx)
    # Interactive with stdout redirected: the answers go to the file under headings, and are
    # shown on the terminal too, so the feedback is about an answer the learner saw.
    redirected = interactive and not out.is_terminal
    if redirected and err.is_terminal:
        print_notice(err, "stdout is not a terminal: each answer is shown here and written there under a heading")
    lesson = Lesson(
        conversation,
        chosen,
        prompts=prompt_set,
        options=settings.options,
        terminal=Terminal(
            out=out, err=err, render=renderer(out, err, plain=plain, mirror=redirected and err.is_terminal),
            read_line=line_reader(err), headings=redirected,
        ),
        switch_backend=backend_named,
        recorder=recorder,
        grounding=grounding,
        last_feedback=last_feedback,
        take_load_seconds=take_load_seconds,
        quiz_keeper=quiz_keeper_factory(recorder, conversation.topic, profile=profile, notify=notify),
        socratic=socratic,
        on_feedback=feedback_observer(notify) if profile and recorder is not None else None,
    )
    try:
        if quiz_questions is not None:
            from tutor.quiz.lesson_quiz import quiz_only

            code = quiz_only(lesson, quiz_questions, keeper=lesson.quiz_keeper)
        else:
            code = lesson.run(interactive=interactive)
    finally:
        progress.close()  # `auto` may have converted the local model mid-lesson
        if recorder is not None:
            recorder.close()
    if code == 0 and interactive and recorder is not None and recorder.lesson_id is not None:
        err.print(f"[dim]kept as lesson {recorder.lesson_id}: tutor resume {recorder.lesson_id}[/]")
    if code:
        raise typer.Exit(code)


def resume(
    ctx: typer.Context,
    lesson_id: LatestLessonId = None,
    backend: Annotated[
        Optional[BackendChoice], typer.Option(help="Default: the backend that answered last.")
    ] = None,
    model: Annotated[Optional[str], typer.Option(help="Default: the model that answered last.")] = None,
    no_feedback: Annotated[bool, typer.Option("--no-feedback", help="Answer a pending request, then exit.")] = False,
    plain: Annotated[bool, typer.Option("--plain", help="Raw text, no Markdown rendering.")] = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", envvar="TUTOR_NO_HISTORY", help="Do not store the new answers.")
    ] = False,
) -> None:
    """Go back to a lesson: see its latest explanation and carry on giving feedback."""
    from tutor.config import BACKENDS, load_settings

    out, err = consoles(ctx)
    lesson = load_lesson(err, lesson_id)
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
    err.print(f"[dim]resuming {lesson.id} · {escape(short_topic(lesson.topic))} · {answers_phrase(conversation.answer_count)}[/]")
    if prompt_set.fingerprint() != lesson.prompts:
        print_notice(err, "the prompts changed since this lesson began; new answers use the current ones")
    grounding = None
    if lesson.notes:
        from tutor.cli.notes import restore_grounding

        feedbacks = [turn.feedback for turn in lesson.turns if turn.feedback is not None and not turn.retry]
        grounding = restore_grounding(lesson.notes, lesson.topic, feedbacks, prompt_set, err)
    if conversation.latest_answer:
        print_markdown(conversation.latest_answer, out, plain=plain)
        ended = next((turn for turn in reversed(lesson.turns) if turn.answer), None)
        if ended is not None and ended.status in ("interrupted", "error"):
            err.print("[dim](interrupted)[/]" if ended.status == "interrupted" else "[dim](failed)[/]")
    last_feedback = lesson.turns[-1].feedback if lesson.turns else None
    run_lesson(
        ctx, settings, prompt_set, conversation,
        no_feedback=no_feedback, plain=plain, history=not no_history, lesson_id=lesson.id,
        grounding=grounding, notes=lesson.notes or None, last_feedback=last_feedback,
    )


def quiz_keeper_factory(recorder: HistoryRecorder | None, topic: str, *, profile: bool,
                        notify: Callable[[str], None]) -> Callable[[], QuizKeeper | None] | None:
    """What opens the lesson's quiz keeper (review cards, the profile) on the first quiz; None
    when the lesson keeps no history."""
    if recorder is None:
        return None

    def open_keeper() -> QuizKeeper | None:
        from tutor.quiz.keeper import QuizKeeper

        return QuizKeeper.open(lesson_id=recorder.lesson_id, topic=topic, profile=profile, notify=notify)

    return open_keeper
