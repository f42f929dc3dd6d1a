"""The feedback loop, driven with a fake backend and a scripted terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from fakes import FakeBackend, Interrupt
from tutor.conversation import Conversation
from tutor.errors import StreamBroken
from tutor.lesson import Lesson
from tutor.lesson_io import Terminal
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet


class ScriptedTerminal:
    def __init__(self, *lines: str | BaseException) -> None:
        self.lines = list(lines)
        self.out = Console(file=io.StringIO(), width=100, color_system=None)
        self.err = Console(file=io.StringIO(), width=100, color_system=None)
        self.prompts_shown = 0

    def render(self, chunks):
        text = ""
        for chunk in chunks:
            self.out.file.write(chunk)
            text += chunk
        self.out.file.write("\n")
        return text

    def read_line(self, prompt: str) -> str:
        self.prompts_shown += 1
        if not self.lines:
            raise EOFError
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line

    def terminal(self) -> Terminal:
        return Terminal(out=self.out, err=self.err, render=self.render, read_line=self.read_line)

    @property
    def stdout(self) -> str:
        return self.out.file.getvalue()

    @property
    def stderr(self) -> str:
        return self.err.file.getvalue()


def make_lesson(backend, term, **kwargs) -> Lesson:
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Transformers in ML", "beginner")
    return Lesson(
        conversation,
        backend,
        prompts=prompts,
        options=GenerationOptions(temperature=0.5),
        terminal=term.terminal(),
        **kwargs,
    )


def test_feedback_produces_a_revision_that_sees_the_whole_history():
    backend = FakeBackend(["# Transformers\n", "Attention is all you need."], ["Simpler: ", "words look at words."])
    term = ScriptedTerminal("simpler please", "")
    lesson = make_lesson(backend, term)

    assert lesson.run(interactive=True) == 0

    assert term.stdout == "# Transformers\nAttention is all you need.\nSimpler: words look at words.\n"
    second_request = backend.calls[1]
    assert [m["role"] for m in second_request] == ["system", "user", "assistant", "user"]
    assert second_request[2]["content"] == "# Transformers\nAttention is all you need."
    assert "simpler please" in second_request[3]["content"]
    assert lesson.conversation.latest_answer == "Simpler: words look at words."
    assert backend.options[1].temperature == 0.5


def test_footer_shows_model_tokens_and_speed():
    term = ScriptedTerminal()
    make_lesson(FakeBackend(["a", "b", "c"]), term).run(interactive=False)
    assert "fake:fake-1 · 7 prompt + 3 answer tokens · first token 1.00 s" in term.stderr
    assert "tok/s" in term.stderr


def test_an_answer_cut_at_the_token_limit_says_so():
    term = ScriptedTerminal()
    make_lesson(FakeBackend(["Hashing maps keys to"], finish_reason="length"), term).run(interactive=False)
    assert "note: the answer reached its token limit; --max-tokens raises it" in term.stderr
    finished = ScriptedTerminal()
    make_lesson(FakeBackend(["Hashing maps keys to slots."]), finished).run(interactive=False)
    assert "token limit" not in finished.stderr


def test_a_backend_switch_says_how_long_the_load_took_and_the_footer_does_not_repeat_it():
    loads: list[float] = []
    first, second = FakeBackend(["a"], name="openai"), FakeBackend(["b"], name="local")

    def switch(name):
        loads.append(3.25)
        return second

    term = ScriptedTerminal("/backend local", "again", "/quit")
    make_lesson(first, term, switch_backend=switch,
                take_load_seconds=lambda: loads.pop() if loads else None).run(interactive=True)
    assert "now using local:fake-1 (loaded in 3.25 s)" in term.stderr
    assert "model load" not in term.stderr


def test_footer_counts_the_model_load_before_the_first_token_once():
    loads = [2.5]
    term = ScriptedTerminal("again", "/quit")
    backend = FakeBackend(["a", "b"], ["c", "d"], name="local")
    make_lesson(backend, term, take_load_seconds=lambda: loads.pop() if loads else None).run(interactive=True)
    footers = [line for line in term.stderr.splitlines() if "answer tokens" in line]
    assert "7 prompt + 2 answer tokens · model load 2.50 s · first token 1.00 s" in footers[0]
    assert "model load" not in footers[1]


@pytest.mark.parametrize("leave", ["/quit", "", EOFError(), KeyboardInterrupt()])
def test_every_way_of_leaving_exits_cleanly(leave):
    term = ScriptedTerminal(leave, "never read")
    assert make_lesson(FakeBackend(["hi"]), term).run(interactive=True) == 0
    assert term.prompts_shown == 1


def test_not_interactive_answers_once_without_prompting():
    term = ScriptedTerminal("simpler")
    backend = FakeBackend(["one answer"])
    assert make_lesson(backend, term).run(interactive=False) == 0
    assert term.prompts_shown == 0
    assert len(backend.calls) == 1


def test_ctrl_c_mid_stream_keeps_the_partial_answer_and_returns_to_the_prompt():
    backend = FakeBackend(["Half of ", "an answer", Interrupt(), "never shown"], ["full answer"])
    term = ScriptedTerminal("go on", "/quit")
    lesson = make_lesson(backend, term)

    assert lesson.run(interactive=True) == 0

    assert "(interrupted)" in term.stderr
    assert backend.calls[1][2] == {"role": "assistant", "content": "Half of an answer"}
    assert "never shown" not in term.stdout
    assert lesson.conversation.latest_answer == "full answer"


def test_ctrl_c_closes_the_backend_stream_when_the_renderer_is_interrupted():
    backend = FakeBackend(["one", "two", "three"])
    term = ScriptedTerminal()

    def render_then_ctrl_c(chunks):
        next(iter(chunks))
        raise KeyboardInterrupt

    lesson = make_lesson(backend, term)
    lesson.terminal.render = render_then_ctrl_c
    assert lesson.run(interactive=False) == 130
    assert backend.closed == 1


def test_a_broken_stream_keeps_the_partial_text_and_says_so():
    backend = FakeBackend(["Partial ", "text", StreamBroken("the connection dropped", partial="Partial text")])
    term = ScriptedTerminal("/quit")
    lesson = make_lesson(backend, term)

    assert lesson.run(interactive=True) == 0

    assert "Partial text" in term.stdout
    assert "error: the connection dropped" in term.stderr
    assert "partial answer above is kept" in term.stderr
    assert lesson.conversation.latest_answer == "Partial text"


def test_a_broken_stream_without_a_terminal_exits_non_zero():
    backend = FakeBackend(["Partial", StreamBroken("dropped", partial="Partial")])
    term = ScriptedTerminal()
    assert make_lesson(backend, term).run(interactive=False) == 1
    assert "Partial" in term.stdout
    assert term.stderr.count("error: dropped") == 1


class ListRecorder:
    """Keeps what the lesson tells a recorder."""

    def __init__(self) -> None:
        self.started: list[tuple[str | None, bool]] = []

    def answer_started(self, conversation, feedback, backend, *, retry=False) -> None:
        self.started.append((feedback, retry))

    def answer_chunk(self, chunk) -> None:
        pass

    def answer_finished(self, conversation, answer, usage) -> None:
        pass


def test_retry_is_recorded_as_a_retry_of_the_same_feedback():
    recorder = ListRecorder()
    term = ScriptedTerminal("simpler", "/retry", "/quit")
    make_lesson(FakeBackend(["a"], ["b"], ["c"]), term, recorder=recorder).run(interactive=True)
    assert recorder.started == [(None, False), ("simpler", False), ("simpler", True)]


def test_retry_in_a_resumed_lesson_keeps_the_feedback_it_retries():
    recorder = ListRecorder()
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Entropy", "beginner")
    conversation.record_answer("first")
    conversation.add_feedback(prompts, "simpler")
    conversation.record_answer("second")
    term = ScriptedTerminal("/retry", "/quit")
    lesson = Lesson(conversation, FakeBackend(["third"]), prompts=prompts, options=GenerationOptions(),
                    terminal=term.terminal(), recorder=recorder, last_feedback="simpler")
    lesson.run(interactive=True)
    assert recorder.started == [("simpler", True)]


def test_answers_to_a_redirected_stdout_are_separated_under_headings():
    term = ScriptedTerminal("simpler\nplease", "/retry", "/quit")
    terminal = term.terminal()
    terminal.headings = True
    backend = FakeBackend(["first answer"], ["second answer"], [Interrupt()])
    lesson = Lesson(Conversation.start(PromptSet(), "Entropy", "beginner"), backend, prompts=PromptSet(),
                    options=GenerationOptions(), terminal=terminal)
    lesson.run(interactive=True)
    assert term.stdout == (
        "# Entropy\n\n## Explanation\n\nfirst answer\n"
        "\n---\n\n## Feedback\n\n> simpler\n> please\n\n## Revised explanation\n\nsecond answer\n"
        "\n---\n\n## Revised explanation (retry)\n\n\n*(interrupted)*\n"
    )


def test_retry_asks_the_same_request_again():
    backend = FakeBackend(["first"], ["second"])
    term = ScriptedTerminal("/retry", "/quit")
    lesson = make_lesson(backend, term)
    lesson.run(interactive=True)
    assert backend.calls[0] == backend.calls[1]
    assert lesson.conversation.latest_answer == "second"
    assert lesson.conversation.answer_count == 1


NOON_2026 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


def test_save_writes_the_latest_explanation_shaped_like_export(tmp_path):
    target = tmp_path / "notes.md"
    term = ScriptedTerminal("more math", f"/save {target}", "/quit")
    make_lesson(FakeBackend(["old"], ["# New\n\nwith math"]), term, clock=lambda: NOON_2026).run(interactive=True)
    assert target.read_text() == (
        "# Transformers in ML\n\n*beginner · fake:fake-1 · 2026-05-28 20:26 UTC*\n\n"
        "## Revised explanation\n\n# New\n\nwith math\n"
    )
    assert f"saved {target}" in term.stderr.replace("\n", "")


def test_save_without_a_name_uses_the_topic_and_never_overwrites():
    term = ScriptedTerminal("/save", "/retry", "/save", "/quit")
    make_lesson(FakeBackend(["answer"], ["again"]), term).run(interactive=True)
    assert Path("transformers-in-ml.md").read_text().endswith("## Explanation\n\nanswer\n")
    assert Path("transformers-in-ml-2.md").read_text().endswith("## Explanation (retry)\n\nagain\n")
    shown = term.stderr.replace("\n", "")
    assert f"saved {Path.cwd() / 'transformers-in-ml.md'}" in shown
    assert f"saved {Path.cwd() / 'transformers-in-ml-2.md'}" in shown


def test_save_to_an_unwritable_place_reports_and_leaves_nothing(tmp_path):
    target = tmp_path / "missing-dir" / "x.md"
    term = ScriptedTerminal(f"/save {target}", "/quit")
    make_lesson(FakeBackend(["answer"]), term).run(interactive=True)
    assert "error: cannot write" in term.stderr
    assert not target.parent.exists()


def test_help_lines_up_every_command_description():
    term = ScriptedTerminal("/help", "/quit")
    make_lesson(FakeBackend(["answer"]), term).run(interactive=True)
    commands = [line for line in term.stderr.splitlines() if line.startswith("  /")]
    assert len(commands) == 9  # with /quiz, /socratic and /reveal
    columns = {len(line) - len(line[2:].split("  ", 1)[1].lstrip()) for line in commands}
    assert len(columns) == 1, commands


def test_help_and_unknown_commands():
    term = ScriptedTerminal("/help", "/frobnicate", "/quit")
    backend = FakeBackend(["answer"])
    make_lesson(backend, term).run(interactive=True)
    assert "/retry" in term.stderr and "/save" in term.stderr
    assert "unknown command /frobnicate" in term.stderr
    assert len(backend.calls) == 1


def test_backend_switch_mid_conversation():
    first, second = FakeBackend(["from first"], name="openai"), FakeBackend(["from second"], name="local")
    term = ScriptedTerminal("/backend local", "again please", "/quit")
    lesson = make_lesson(first, term, switch_backend=lambda name: {"local": second}[name])
    lesson.run(interactive=True)
    assert len(first.calls) == 1 and len(second.calls) == 1
    assert second.calls[0][2]["content"] == "from first"
    assert "now using local:fake-1" in term.stderr


def test_backend_switch_rejects_unknown_names():
    term = ScriptedTerminal("/backend gemini", "/quit")
    make_lesson(FakeBackend(["a"]), term, switch_backend=lambda name: FakeBackend()).run(interactive=True)
    assert "usage: /backend openai  or  /backend local" in term.stderr


def test_feedback_after_a_failed_revision_replaces_the_unanswered_request():
    backend = FakeBackend(["first"], [StreamBroken("boom")], ["third"])
    term = ScriptedTerminal("simpler", "simpler still", "/quit")
    lesson = make_lesson(backend, term)
    lesson.run(interactive=True)
    roles = [m["role"] for m in backend.calls[2]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "simpler still" in backend.calls[2][3]["content"]


def test_saved_explanations_are_private_and_replace_the_old_file(tmp_path):
    import os
    import stat

    target = tmp_path / "saved" / "x.md"
    target.parent.mkdir()
    target.write_text("old")
    term = ScriptedTerminal(f"/save {target}", "/quit")
    make_lesson(FakeBackend(["new"]), term).run(interactive=True)
    assert target.read_text().endswith("\n\nnew\n")
    assert f"replaced {target}" in term.stderr.replace("\n", "")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["x.md"]
