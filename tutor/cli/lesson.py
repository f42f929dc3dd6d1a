"""The `tutor` command line. Commands only: the work happens in the library modules.

This is the one place where TutorError becomes a message and an exit code.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from typer.exceptions import TyperException

from tutor import __version__
from tutor.cli.help import GroupedHelpGroup, TutorCommand
from tutor.errors import EXIT_INTERRUPTED, TutorError
from tutor.cli.console import control_keys_not_echoed, print_error, stderr_console, stdout_console

if TYPE_CHECKING:
    from tutor.config import Settings
    from tutor.conversation import Conversation
    from tutor.notes import Grounding
    from tutor.prompts import PromptSet

# Said once per lesson on a local model: a small model explains fluently even where it is wrong.
OFFLINE_CAVEAT = (
    "offline answers come from a small local model and can contain mistakes; "
    "--notes grounds them in your own material"
)


@dataclass
class Dependencies:
    """What commands take from the outside world, so tests can pass fakes via `obj=`.

    Args:
        build_backend: `(choice, settings, notify=, progress=) -> Backend`; the real one when None.
        stdin_is_tty: whether to run the feedback loop; defaults to `sys.stdin.isatty()`.
        out: console for answers; `stdout_console()` when None.
        clock: monotonic seconds, for the model load time in the footer.
    """

    build_backend: Optional[Callable[..., Any]] = None
    stdin_is_tty: Optional[Callable[[], bool]] = None
    out: Optional[Console] = None
    clock: Optional[Callable[[], float]] = None


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
            if os.environ.get("TUTOR_DEBUG"):
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


class BackendChoice(str, Enum):
    auto = "auto"
    openai = "openai"
    local = "local"


class LevelChoice(str, Enum):
    beginner = "beginner"
    intermediate = "intermediate"
    expert = "expert"


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tutor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Explain any topic, stream it as Markdown, and revise it from your feedback."""


SAMPLING = "Sampling"
MODEL = "Model"
OUTPUT = "Output"


@app.command(cls=TutorCommand)
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
    from tutor.cli.profile import apply_profile
    from tutor.cli.quiz import print_cards_due

    prompt_set = lesson_prompts(settings)
    grounding, notes_context, notes_used = _notes_grounding(notes, prompt_set, topic)
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


def _notes_grounding(notes: Optional[list[Path]], prompt_set: PromptSet, topic: str):
    """`--notes` (or TUTOR_NOTES): the lesson's notes index, the passages for its first
    request, and the notes paths made absolute (for resume); (None, None, None) without notes."""
    from tutor.cli.notes import notes_paths, open_grounding, topic_context

    paths = notes_paths(notes)
    if not paths:
        return None, None, None
    err = stderr_console()
    grounding = open_grounding(paths, prompt_set, err)
    absolute = [str(path.expanduser().absolute()) for path in paths]
    return grounding, topic_context(grounding, topic, err), absolute


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

    from tutor.cli.models import RichLoadProgress
    from tutor.history.recorder import open_recorder
    from tutor.lesson import Lesson, Terminal
    from tutor.cli.console import print_notice

    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    if deps.build_backend is None:
        from tutor.backends.select import build_backend
    else:
        build_backend = deps.build_backend
    out = deps.out or stdout_console()
    err = stderr_console()
    clock = deps.clock or time.perf_counter
    notify = lambda message: print_notice(err, message)  # noqa: E731
    progress = RichLoadProgress(console=err)
    load_seconds: list[float] = []  # the latest load, until an answer's footer takes it

    def backend_named(name: str):
        started = clock()
        try:
            backend = build_backend(name, settings, notify=notify, progress=progress)
        finally:
            progress.close()  # a failed model conversion must not leave its spinner running
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
    stdin_is_tty = deps.stdin_is_tty or sys.stdin.isatty
    interactive = not no_feedback and stdin_is_tty()
    # Interactive with stdout redirected: the answers go to the file under headings, and are
    # shown on the terminal too, so the feedback is about an answer the learner saw.
    redirected = interactive and not out.is_terminal
    if redirected and err.is_terminal:
        print_notice(err, "stdout is not a terminal: each answer is shown here and written there under a heading")
    from tutor.cli.profile import feedback_observer
    from tutor.cli.quiz import quiz_keeper_factory

    lesson = Lesson(
        conversation,
        chosen,
        prompts=prompt_set,
        options=settings.options,
        terminal=Terminal(
            out=out, err=err, render=_renderer(out, err, plain=plain, mirror=redirected and err.is_terminal),
            read_line=_line_reader(err), headings=redirected,
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


def _renderer(out: Console, err: Console, *, plain: bool, mirror: bool):
    """Live Markdown on a terminal, else plain text; with `mirror`, plain text to `out` (a file)
    while the terminal on `err` shows the answer."""
    from tutor.render import stream_markdown, stream_plain

    if mirror:
        def render_both(chunks):
            copied = _copied_to(chunks, out.file)
            if plain:
                return stream_plain(copied, err.file)
            with control_keys_not_echoed():
                return stream_markdown(copied, err)

        return render_both
    if plain or not out.is_terminal:
        return lambda chunks: stream_plain(chunks, out.file)

    def render(chunks):
        with control_keys_not_echoed():
            return stream_markdown(chunks, out)

    return render


def _copied_to(chunks, file):
    """The chunks, each also written to `file` as it passes (terminal-safe, as a pipe may end
    in one); the copy ends with a newline."""
    from tutor.safe_text import safe_text

    ended = True
    try:
        for chunk in chunks:
            file.write(safe_text(chunk))
            file.flush()
            ended = chunk.endswith("\n") if chunk else ended
            yield chunk
    finally:
        if not ended:
            file.write("\n")
        file.flush()


def _line_reader(err: Console):
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass

    def read_line(prompt: str) -> str:
        """One line of feedback; a line the terminal's encoding cannot decode is refused here
        and asked for again, so it never reaches the model or the history."""
        from tutor.conversation import require_decodable, undecodable_error

        while True:
            err.print(f"[bold cyan]{prompt}[/]", end="")
            try:
                return require_decodable(input(), "that line")
            except UnicodeDecodeError:  # stdin decodes strictly outside UTF-8 mode
                print_error(err, undecodable_error("that line"))
            except TutorError as exc:
                print_error(err, exc)

    return read_line


@app.command(cls=TutorCommand)
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
        "prompts_dir": str(lesson_prompts(settings).directory),
    }
    for name, value in shown.items():
        table.add_row(name, value, settings.sources.get(name, "default"), ENV_NAMES[name])
    stdout_console().print(table)


from tutor.cli.train import sample, train  # noqa: E402

app.command(cls=TutorCommand, rich_help_panel="Models")(train)
app.command(cls=TutorCommand, rich_help_panel="Models")(sample)
from tutor.cli.pull import pull  # noqa: E402

app.command(cls=TutorCommand, rich_help_panel="Models")(pull)



@app.command(cls=TutorCommand, rich_help_panel="Models")
def models() -> None:
    """List the local models (embedded, converted, trained) and the configured OpenAI model."""
    from tutor.cli.models import models as list_models  # rich.progress and hashing: not for --help

    list_models()


from tutor.cli.history import delete, export, history, resume, show  # noqa: E402 - needs Dependencies above

HISTORY = "History"
app.command(cls=TutorCommand, rich_help_panel=HISTORY)(history)
app.command(cls=TutorCommand, rich_help_panel=HISTORY)(show)
app.command(cls=TutorCommand, rich_help_panel=HISTORY)(resume)
app.command(cls=TutorCommand, rich_help_panel=HISTORY)(export)
app.command(cls=TutorCommand, rich_help_panel=HISTORY)(delete)

from tutor.cli.profile import profile  # noqa: E402
from tutor.cli.quiz import quiz, review  # noqa: E402

app.command(cls=TutorCommand, rich_help_panel="Practice")(quiz)
app.command(cls=TutorCommand, rich_help_panel="Practice")(review)
app.command(cls=TutorCommand, rich_help_panel="Practice")(profile)

from tutor.cli.serve import serve  # noqa: E402

app.command(cls=TutorCommand, rich_help_panel="Serve")(serve)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
