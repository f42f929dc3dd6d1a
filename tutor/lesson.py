"""The interactive lesson: stream an answer, read feedback, stream a revision, repeat.

This is the only place that knows about the loop's commands (/retry, /save ...). It talks to the
terminal through the objects passed in (`tutor.lesson_io`), so tests can drive it with fakes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from rich.markup import escape

from tutor.backends.base import Backend
from tutor.config import ANSWERING_BACKENDS
from tutor.conversation import Conversation
from tutor.display import SHOWN_LOAD_S, footer_text, print_error, print_notice
from tutor.errors import EXIT_INTERRUPTED, TutorError, UsageError
from tutor.files import slug, unused_path, write_text
from tutor.history.export import answer_heading, document_title
from tutor.lesson_io import Answer, LessonRecorder, NoRecorder, Terminal
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet
from tutor.safe_text import safe_text

if TYPE_CHECKING:
    from tutor.notes import Grounding
    from tutor.quiz.lesson_quiz import KeeperFactory

HELP = f"""\
Type feedback to get a revised explanation, e.g. "simpler", "more math", "an example with code".
  /retry          answer the last request again
  /save [FILE]    write the latest explanation to a Markdown file (TOPIC.md, never
                  overwritten, when FILE is left out; a FILE that exists is replaced)
  /backend NAME   switch backend for the next answers ({', '.join(ANSWERING_BACKENDS)})
  /sources        the notes passages this lesson used (--notes)
  /quiz [N]       N check questions on this explanation (default 3), graded, with hints
  /socratic       turn Socratic mode on or off: questions and hints instead of answers
  /reveal         in Socratic mode: the full explanation now
  /help           this help
  /quit           leave (so do an empty line, Ctrl-D and Ctrl-C)"""


class Lesson:
    """One topic, one conversation, any number of revisions.

    Args:
        conversation: the history so far (a new lesson holds only the explain request).
        backend: answers the requests; `/backend` can replace it.
        prompts: templates for revision requests.
        options: sampling options for every answer.
        terminal: the consoles and input function.
        switch_backend: builds a backend by name for `/backend`; None disables the command.
        recorder: keeps each answer as it streams; nothing is kept when None.
        grounding: retrieves notes passages (`--notes`); None without notes.
        last_feedback: the feedback that asked for the latest answer, for `/retry` in a resumed lesson.
        take_load_seconds: how long the backend for the next answer took to load, once
            (None when nothing loaded since the last call); the footer adds it to the wait.
        clock: wall-clock seconds, for the date in `/save` documents.
    """

    def __init__(
        self,
        conversation: Conversation,
        backend: Backend,
        *,
        prompts: PromptSet,
        options: GenerationOptions,
        terminal: Terminal,
        switch_backend: Callable[[str], Backend] | None = None,
        recorder: LessonRecorder | None = None,
        grounding: Grounding | None = None,
        last_feedback: str | None = None,
        take_load_seconds: Callable[[], float | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        quiz_keeper: KeeperFactory | None = None,
        socratic: bool = False,
        on_feedback: Callable[[str], None] | None = None,
    ) -> None:
        self.conversation = conversation
        self.backend = backend
        self.prompts = prompts
        self.options = options
        self.terminal = terminal
        self.switch_backend = switch_backend
        self.recorder = recorder or NoRecorder()
        self.grounding = grounding
        self.take_load_seconds = take_load_seconds
        self.clock = clock
        self._last_feedback = last_feedback
        self._latest_heading: str | None = None  # of the latest answer streamed in this session
        # Under headings on `out` (Terminal.headings); a resumed lesson's latest answer is already there.
        self._answers_written = 0 if conversation.latest_answer is None else 1
        self.quiz_keeper = quiz_keeper
        self.socratic = socratic
        self._socratic_replies = 0  # learner replies since the last reveal: the hint ladder's rung
        self.on_feedback = on_feedback


    def answer(self, feedback: str | None = None, *, retry: bool = False) -> Answer:
        """Stream one answer for the pending request and record what the learner saw.

        Args:
            feedback: the learner's words that led to this request (None for the first answer).
            retry: the request is answered again (`/retry`); `feedback` is the retried one.
        """
        received: list[str] = []
        load_seconds = self.take_load_seconds()
        self.recorder.answer_started(self.conversation, feedback, self.backend, retry=retry)
        if self.terminal.headings:
            self._write_heading(feedback, retry)
        chunks: Iterable[str] = ()

        def collected() -> Iterator[str]:
            for chunk in chunks:
                received.append(chunk)
                self.recorder.answer_chunk(chunk)
                yield chunk
            sources = self.grounding.sources_line("".join(received)) if self.grounding and received else ""
            if sources:  # part of the answer: shown, saved and exported with it
                received.append(sources)
                self.recorder.answer_chunk(sources)
                yield sources

        status, error, lost_output = "done", None, None
        try:
            chunks = self.backend.stream(self.conversation.messages, self.options)
            self.terminal.render(collected())
        except KeyboardInterrupt:
            status = "interrupted"
        except TutorError as exc:  # a backend error, or a model that fails as the answer starts
            status, error = "error", exc
        except OSError as exc:  # the output went away (`tutor explain X | head`)
            status, lost_output = "interrupted", exc
        except BaseException:  # a bug: the turn still ends (as failed) before it surfaces
            self.recorder.answer_finished(self.conversation, Answer(text="".join(received), status="error"), None)
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        text = "".join(received)
        if text:
            self.conversation.record_answer(text)
        if lost_output is not None:  # keep the answer, then stop: nobody reads any more
            self.recorder.answer_finished(self.conversation, Answer(text=text, status=status), None)
            raise lost_output
        if status == "interrupted":
            self.terminal.err.print("[dim](interrupted)[/]")
        elif error is not None:
            print_error(self.terminal.err, error)
            if text:
                print_notice(self.terminal.err, "the partial answer above is kept; /retry to try again")
        if self.terminal.headings and status != "done":
            self._write_document(f"\n*({'interrupted' if status == 'interrupted' else 'failed'})*\n")
        usage = self.backend.last_usage
        if usage is not None and status == "done":
            self.terminal.err.print(footer_text(usage, load_seconds=load_seconds))
            if usage.finish_reason == "length":  # else the answer just stops, mid-sentence
                print_notice(self.terminal.err, "the answer reached its token limit; --max-tokens raises it")
        if usage is not None and usage.notice:
            print_notice(self.terminal.err, usage.notice)
        if text:
            self._latest_heading = answer_heading(feedback, retry=retry, status=status)
        answer = Answer(text=text, status=status, error=error)
        self.recorder.answer_finished(self.conversation, answer, usage)
        return answer

    def run(self, *, interactive: bool) -> int:
        """Answer, then (when interactive) take feedback until the learner leaves.

        Returns the process exit code: non-zero when the only answer failed (its error is
        already printed) or was interrupted.
        """
        # A resumed lesson may already hold its answer; then the loop starts at the prompt.
        if self.conversation.awaiting_answer:
            first = self.answer()
            if first.error is not None and (not interactive or not first.text):
                return first.error.exit_code
            if not interactive:
                return EXIT_INTERRUPTED if first.status == "interrupted" else 0
        else:
            self.take_load_seconds()  # the load came before the prompt, not before an answer
            if not interactive:
                return 0
        self.terminal.err.print("[dim]Feedback? (/help for commands, Enter to finish)[/]")
        while True:
            try:
                line = self.terminal.read_line("feedback› ").strip()
            except (EOFError, KeyboardInterrupt):
                self.terminal.err.print()
                return 0
            if not line or line in ("/quit", "/exit", "/q"):
                return 0
            try:
                self.handle(line)
            except TutorError as exc:
                print_error(self.terminal.err, exc)

    def handle(self, line: str) -> None:
        """Run one loop command, or treat the line as feedback."""
        command, _, argument = line.partition(" ")
        argument = argument.strip()
        if command == "/help":
            self.terminal.err.print(escape(HELP), highlight=False)
        elif command == "/retry":
            self.conversation.forget_last_answer()
            self.answer(self._last_feedback, retry=True)
        elif command == "/save":
            self.save(argument)
        elif command == "/backend":
            self.change_backend(argument)
        elif command == "/sources":
            from tutor.display import sources_table

            self.terminal.err.print(sources_table(self.grounding.used if self.grounding else []))
        elif command == "/quiz":
            from tutor.quiz.lesson_quiz import quiz_lesson

            quiz_lesson(self, argument, keeper=self.quiz_keeper)
        elif command in ("/socratic", "/reveal"):
            self.socratic_command(command)
        elif command.startswith("/"):
            raise UsageError(f"unknown command {command}; type /help for the list")
        elif self.socratic:
            from tutor.socratic import reply_request

            self.conversation.add_request(reply_request(self.prompts, line, self._socratic_replies))
            self._socratic_replies += 1
            self._last_feedback = line
            self.answer(line)
        else:
            self.conversation.add_feedback(self.prompts, line)
            if self.on_feedback is not None:
                self.on_feedback(line)
            if self.grounding is not None and self.grounding.for_feedback(self.conversation.topic, line).passages:
                # New passages join the system prompt, where small models follow them best.
                self.conversation.set_system(self.grounding.system_message(self.prompts.render("system")))
            self._last_feedback = line
            self.answer(line)

    def socratic_command(self, command: str) -> None:
        from tutor.socratic import reveal_request

        if command == "/socratic":
            self.socratic, self._socratic_replies = not self.socratic, 0
            state = "on: your lines are answers, and the tutor replies with hints and questions; /reveal for the full explanation" if self.socratic else "off: your lines are feedback on the explanation again"
            self.terminal.err.print(f"[dim]Socratic mode {state}[/]")
            return
        if not self.socratic:
            raise UsageError("/reveal works in Socratic mode (/socratic) and in quizzes")
        self.conversation.add_request(reveal_request(self.prompts, self.conversation.topic))
        self._socratic_replies = 0
        self._last_feedback = command
        self.answer(command)

    def save(self, argument: str) -> None:
        """Write the latest explanation as `tutor export` writes a lesson: the topic as the title,
        a details line, then the explanation under its heading. Without a FILE the name comes
        from the topic and never replaces a file; a FILE that exists is replaced, and says so."""
        text = self.conversation.latest_answer
        if text is None:
            raise UsageError("there is no explanation to save yet")
        if argument:
            path = Path(argument).expanduser()
            replaced = path.exists()
        else:
            path, replaced = unused_path(Path(f"{slug(self.conversation.topic)}.md")), False
        revised = self.conversation.answer_count > 1
        heading = self._latest_heading or ("Revised explanation" if revised else "Explanation")
        blocks = document_title(
            self.conversation.topic, self.conversation.level,
            f"{self.backend.name}:{self.backend.model}", self.clock(),
        )
        write_text(path, "\n\n".join([*blocks, f"## {heading}", text.strip()]))
        verb = "replaced" if replaced else "saved"
        self.terminal.err.print(f"[green]{verb}[/] {escape(str(path.resolve()))}", soft_wrap=True)

    def _write_heading(self, feedback: str | None, retry: bool) -> None:
        """The answer's heading on `out`: the topic first, a rule between answers, the feedback quoted."""
        blocks = [f"# {self.conversation.topic}"] if self._answers_written == 0 else ["---"]
        if feedback is not None and not retry:
            blocks += ["## Feedback", "\n".join(f"> {line}".rstrip() for line in feedback.splitlines())]
        blocks.append(f"## {answer_heading(feedback, retry=retry)}")
        self._write_document(("\n" if self._answers_written else "") + "\n\n".join(blocks) + "\n\n")
        self._answers_written += 1

    def _write_document(self, text: str) -> None:
        self.terminal.out.file.write(safe_text(text))  # a stored topic or feedback may hold escapes
        self.terminal.out.file.flush()

    def change_backend(self, name: str) -> None:
        if self.switch_backend is None:
            raise UsageError("switching backend is not available here")
        if name not in ANSWERING_BACKENDS:
            raise UsageError("usage: " + "  or  ".join(f"/backend {choice}" for choice in ANSWERING_BACKENDS))
        self.backend = self.switch_backend(name)
        loaded = self.take_load_seconds()  # waited for here, not before the next answer
        took = f" (loaded in {loaded:.2f} s)" if loaded is not None and loaded >= SHOWN_LOAD_S else ""
        self.terminal.err.print(f"[green]now using[/] {self.backend.name}:{escape(self.backend.model)}{took}")
