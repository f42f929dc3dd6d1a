"""The recorder: every answer becomes a turn, saved while it streams, and a failing store never
hurts the lesson."""

from __future__ import annotations

import io
import time

from rich.console import Console

from fakes import FakeBackend, Interrupt
from tutor.conversation import Conversation
from tutor.errors import StoreError, StreamBroken
from tutor.history.recorder import HistoryRecorder
from tutor.history.store import HistoryStore
from tutor.lesson import Lesson
from tutor.lesson_io import Answer, Terminal
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet

T0 = 1795000000.0


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Screen:
    """A terminal that feeds scripted lines and keeps what was shown."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.out = Console(file=io.StringIO(), width=100, color_system=None)
        self.err = Console(file=io.StringIO(), width=100, color_system=None)

    def render(self, chunks) -> str:
        parts = []
        for chunk in chunks:
            self.out.file.write(chunk)
            parts.append(chunk)
        self.out.file.write("\n")
        return "".join(parts)

    def read_line(self, prompt: str) -> str:
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def terminal(self) -> Terminal:
        return Terminal(out=self.out, err=self.err, render=self.render, read_line=self.read_line)


def store() -> HistoryStore:
    opened = HistoryStore.open(clock=lambda: T0)
    assert opened is not None
    return opened


def lesson_with(backend, screen, recorder, conversation=None) -> Lesson:
    prompts = PromptSet()
    conversation = conversation or Conversation.start(prompts, "Transformers in ML", "beginner")
    return Lesson(conversation, backend, prompts=prompts, options=GenerationOptions(), terminal=screen.terminal(),
                  recorder=recorder)


def test_every_answer_is_a_turn_with_its_feedback_usage_and_messages():
    backend = FakeBackend(["# T\n", "Body"], ["Simpler"])
    recorder = HistoryRecorder(store(), prompts="fp", watchdog=False)
    lesson = lesson_with(backend, Screen("simpler", ""), recorder)
    assert lesson.run(interactive=True) == 0
    recorder.close()

    saved = store().load(recorder.lesson_id)
    assert (saved.topic, saved.level, saved.backend, saved.model, saved.prompts) == (
        "Transformers in ML", "beginner", "fake", "fake-1", "fp")
    assert saved.messages == lesson.conversation.messages
    assert [(t.seq, t.feedback, t.answer, t.status) for t in saved.turns] == [
        (1, None, "# T\nBody", "done"),
        (2, "simpler", "Simpler", "done"),
    ]
    first = saved.turns[0]
    assert (first.prompt_tokens, first.completion_tokens, first.time_to_first_token, first.tokens_per_second) == (
        7, 2, 1.0, 1.0)
    assert (first.started_at, first.finished_at) == (T0, T0)


def test_interrupted_and_failed_answers_keep_their_text_and_error():
    backend = FakeBackend(["Half", Interrupt()], ["Some", StreamBroken("the stream stopped", partial="Some")])
    recorder = HistoryRecorder(store(), prompts="fp", watchdog=False)
    lesson = lesson_with(backend, Screen("more", ""), recorder)
    lesson.run(interactive=True)
    recorder.close()
    turns = store().load(recorder.lesson_id).turns
    assert [(t.answer, t.status, t.error) for t in turns] == [
        ("Half", "interrupted", None),
        ("Some", "error", "the stream stopped"),
    ]


def test_streaming_text_is_saved_every_half_second_and_when_the_answer_ends():
    clock = Clock()
    db = store()
    recorder = HistoryRecorder(db, prompts="fp", clock=clock, watchdog=False)
    conversation = Conversation.start(PromptSet(), "X", "beginner")
    recorder.answer_started(conversation, None, FakeBackend())

    def saved() -> str:
        return db.load(recorder.lesson_id).turns[0].answer

    for now, chunk, expected in [(0.2, "a", ""), (0.49, "b", ""), (0.5, "c", "abc"), (0.9, "d", "abc"),
                                 (1.0, "e", "abcde"), (1.7, "f", "abcdef")]:
        clock.now = now
        recorder.answer_chunk(chunk)
        assert saved() == expected, now
    clock.now = 1.8
    recorder.answer_chunk("g")
    assert saved() == "abcdef"
    recorder.answer_finished(conversation, Answer("abcdefg", "done"), None)
    turn = db.load(recorder.lesson_id).turns[0]
    assert (turn.answer, turn.status) == ("abcdefg", "done")


def test_the_watchdog_saves_text_from_a_stalled_stream():
    clock = Clock()
    db = store()
    recorder = HistoryRecorder(db, prompts="fp", clock=clock)
    conversation = Conversation.start(PromptSet(), "X", "beginner")
    recorder.answer_started(conversation, None, FakeBackend())
    clock.now = 0.1
    recorder.answer_chunk("stalled here")  # not due yet, and no later chunk comes
    assert db.load(recorder.lesson_id).turns[0].answer == ""
    clock.now = 0.6
    deadline = time.monotonic() + 10
    while db.load(recorder.lesson_id).turns[0].answer != "stalled here":
        assert time.monotonic() < deadline, "the watchdog never saved the stalled text"
        time.sleep(0.01)
    recorder.answer_finished(conversation, Answer("stalled here", "interrupted"), None)
    recorder.close()


def test_a_resumed_lesson_gets_new_turns_on_the_same_lesson():
    first = HistoryRecorder(store(), prompts="fp", watchdog=False)
    lesson_with(FakeBackend(["one"]), Screen(), first).run(interactive=False)
    first.close()
    again = HistoryRecorder(store(), prompts="fp", lesson_id=first.lesson_id, watchdog=False)
    resumed = store().load(first.lesson_id).conversation()
    lesson_with(FakeBackend(["two"]), Screen("more", ""), again, resumed).run(interactive=True)
    again.close()
    saved = store().load(first.lesson_id)
    assert [(t.seq, t.feedback, t.answer) for t in saved.turns] == [(1, None, "one"), (2, "more", "two")]
    assert [lesson.id for lesson in store().lessons()] == [first.lesson_id]


class BrokenStore:
    """Starts lessons, then fails on every write after the first answer begins."""

    def __init__(self) -> None:
        self.writes = 0

    def new_lesson(self, **kwargs) -> str:
        return "aaaaaa"

    def start_turn(self, *args, **kwargs) -> int:
        self.writes += 1
        return 1

    def save_partial(self, *args) -> None:
        self.writes += 1
        raise StoreError("disk I/O error")

    def finish_turn(self, *args, **kwargs) -> None:
        self.writes += 1
        raise StoreError("disk I/O error")

    def close(self) -> None:
        pass


def test_a_failing_store_warns_once_and_the_lesson_goes_on():
    clock = Clock()
    notices = []
    broken = BrokenStore()
    recorder = HistoryRecorder(broken, prompts="fp", clock=clock, notify=notices.append, watchdog=False)  # type: ignore[arg-type]

    class Ticking(FakeBackend):
        def stream(self, messages, options):
            for chunk in super().stream(messages, options):
                clock.now += 1  # every chunk is due for a save
                yield chunk

    screen = Screen("simpler", "")
    lesson = lesson_with(Ticking(["first ", "answer"], ["second"]), screen, recorder)
    assert lesson.run(interactive=True) == 0
    assert screen.out.file.getvalue() == "first answer\nsecond\n"
    assert notices == ["history is off for the rest of this lesson: disk I/O error"]
    assert broken.writes == 2  # the first turn, its first save; nothing after the failure
