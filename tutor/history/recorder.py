"""Saves a lesson into the history while it happens (the `LessonRecorder` the CLI passes in).

Streaming text is written at most every `interval` seconds while chunks arrive, by a watchdog
thread when the stream stalls before that text is written, and once more when the answer ends
(done, interrupted or error). So a crash, even `kill -9`, loses at most the last `interval` of
text, and the turn it leaves behind reads as interrupted.

Nothing here may hurt the lesson: a failing store is reported once, between answers, and the
lesson goes on without history.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tutor.errors import StoreError, TutorError
from tutor.history.store import HistoryStore

if TYPE_CHECKING:
    from tutor.backends.base import Backend
    from tutor.conversation import Conversation
    from tutor.lesson_io import Answer
    from tutor.options import Usage

SAVE_INTERVAL_S = 0.5  # the most streamed text a crash can lose


class HistoryRecorder:
    """Records each answer of a lesson as a turn; the lesson itself is added on the first answer.

    Args:
        store: where to write; the recorder closes it in `close()`.
        prompts: `PromptSet.fingerprint()` of the prompts the lesson uses.
        lesson_id: add turns to this stored lesson (resume); None starts a new one.
        notes: the lesson's `--notes` paths, stored with a new lesson so resume restores them.
        notify: prints a one-line warning; called at most once, never while an answer streams.
        clock: monotonic seconds, for the save interval.
        interval: seconds between saves of streaming text.
        watchdog: save text that a stalled stream left unsaved, from a background thread. Tests
            that drive `clock` by hand turn it off.
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        prompts: str,
        lesson_id: str | None = None,
        notes: list[str] | None = None,
        notify: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = SAVE_INTERVAL_S,
        watchdog: bool = True,
    ) -> None:
        self.store = store
        self.prompts = prompts
        self.lesson_id = lesson_id
        self.notes = notes
        self.interval = interval
        self._notify = notify
        self._clock = clock
        self._watchdog = watchdog
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._seq: int | None = None  # the turn streaming now
        self._parts: list[str] = []
        self._dirty = False  # text arrived since the last save
        self._last_save = 0.0
        self._failure: str | None = None
        self._warned = False

    def answer_started(
        self, conversation: Conversation, feedback: str | None, backend: Backend, *, retry: bool = False
    ) -> None:
        with self._cond:
            self._seq, self._parts, self._dirty = None, [], False
            if self._failure is None:
                self._guard(lambda: self._start_turn(conversation, feedback, backend, retry))
            self._last_save = self._clock()
            if self._watchdog and self._thread is None and self._seq is not None:
                self._thread = threading.Thread(target=self._watch, name="history-saver", daemon=True)
                self._thread.start()
        self._warn_once()

    def answer_chunk(self, chunk: str) -> None:
        with self._cond:
            if self._seq is None:
                return
            self._parts.append(chunk)
            if self._clock() - self._last_save >= self.interval:
                self._save_partial()
            elif not self._dirty:
                self._dirty = True
                self._cond.notify()

    def answer_finished(self, conversation: Conversation, answer: Answer, usage: Usage | None) -> None:
        with self._cond:
            seq, self._seq, self._dirty = self._seq, None, False
            if seq is not None and self.lesson_id is not None:
                lesson_id = self.lesson_id
                self._guard(
                    lambda: self.store.finish_turn(
                        lesson_id,
                        seq,
                        answer=answer.text,
                        status=answer.status,
                        error=None if answer.error is None else str(answer.error),
                        usage=usage,
                        messages=conversation.messages,
                    )
                )
        self._warn_once()

    def close(self) -> None:
        """Stop the watchdog and close the store. Call it once the lesson is over."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        self.store.close()

    def _start_turn(self, conversation: Conversation, feedback: str | None, backend: Backend, retry: bool) -> None:
        if self.lesson_id is None:
            self.lesson_id = self.store.new_lesson(
                topic=conversation.topic,
                level=conversation.level,
                backend=backend.name,
                model=backend.model,
                prompts=self.prompts,
                messages=conversation.messages,
                notes=self.notes,
            )
        self._seq = self.store.start_turn(
            self.lesson_id, feedback=feedback, backend=backend.name, model=backend.model,
            messages=conversation.messages, retry=retry,
        )

    def _save_partial(self) -> None:
        """Save the text so far. The caller holds `_cond`."""
        if self._seq is None or self.lesson_id is None:
            return
        lesson_id, seq, text = self.lesson_id, self._seq, "".join(self._parts)
        self._guard(lambda: self.store.save_partial(lesson_id, seq, text))
        self._last_save = self._clock()
        self._dirty = False

    def _watch(self) -> None:
        """Save text that has waited `interval` because no later chunk came to save it."""
        with self._cond:
            while not self._closed:
                if not self._dirty or self._seq is None:
                    self._cond.wait()
                    continue
                delay = self._last_save + self.interval - self._clock()
                if delay > 0:
                    self._cond.wait(delay)
                else:
                    self._save_partial()

    def _guard(self, write: Callable[[], None]) -> None:
        """Run one store write; on failure, stop recording and remember why."""
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - whatever breaks the store must not break the lesson
            self._failure = str(exc) if isinstance(exc, TutorError) else f"{type(exc).__name__}: {exc}"
            self._seq = None

    def _warn_once(self) -> None:
        if self._failure is not None and not self._warned:
            self._warned = True
            self._notify(f"history is off for the rest of this lesson: {self._failure}")


def open_recorder(
    prompts: str,
    *,
    notify: Callable[[str], None],
    lesson_id: str | None = None,
    notes: list[str] | None = None,
    path: Path | None = None,
) -> HistoryRecorder | None:
    """A recorder on the history database, or None (after a notice) when it cannot be opened."""
    try:
        store = HistoryStore.open(path, notify=notify)
    except StoreError as exc:
        notify(f"history is off for this lesson: {exc}")
        return None
    assert store is not None  # create=True always gives a store
    return HistoryRecorder(store, prompts=prompts, lesson_id=lesson_id, notes=notes, notify=notify)
