"""The feedback loop, driven with a fake backend and a scripted terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from fakes import FakeBackend, Interrupt
from tutor.backends.base import GenerationOptions
from tutor.conversation import Conversation
from tutor.errors import StreamBroken
from tutor.lesson import Lesson, Terminal
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


def test_retry_asks_the_same_request_again():
    backend = FakeBackend(["first"], ["second"])
    term = ScriptedTerminal("/retry", "/quit")
    lesson = make_lesson(backend, term)
    lesson.run(interactive=True)
    assert backend.calls[0] == backend.calls[1]
    assert lesson.conversation.latest_answer == "second"
    assert lesson.conversation.answer_count == 1


def test_save_writes_the_latest_explanation(tmp_path):
    target = tmp_path / "notes.md"
    term = ScriptedTerminal("more math", f"/save {target}", "/quit")
    make_lesson(FakeBackend(["old"], ["# New\n\nwith math"]), term).run(interactive=True)
    assert target.read_text() == "# New\n\nwith math\n"
    assert f"saved {target}" in term.stderr.replace("\n", "")


def test_save_without_a_name_uses_the_topic():
    term = ScriptedTerminal("/save", "/quit")
    make_lesson(FakeBackend(["answer"]), term).run(interactive=True)
    assert Path("transformers-in-ml.md").read_text() == "answer\n"


def test_save_to_an_unwritable_place_reports_and_leaves_nothing(tmp_path):
    target = tmp_path / "missing-dir" / "x.md"
    term = ScriptedTerminal(f"/save {target}", "/quit")
    make_lesson(FakeBackend(["answer"]), term).run(interactive=True)
    assert "error: cannot write" in term.stderr
    assert not target.parent.exists()


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
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["x.md"]
