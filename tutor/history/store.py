"""The lesson history: lessons and their turns in a local SQLite database.

A lesson is one topic with its chat messages (enough to resume it); a turn is one streamed
answer with the feedback that asked for it, how it ended, and what it cost. A turn is written
as `streaming` when it starts and updated while text arrives; a process that dies mid-answer
leaves it `streaming`, and readers report such a turn as `interrupted` once its writer is gone.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from tutor.errors import StoreError, UsageError
from tutor.history.db import DamagedText, connect, history_path, is_damaged, transaction
from tutor.history.liveness import writer_alive, writer_token
from tutor.history.quiz_log import quiz_items
from tutor.history.records import LessonSummary, StoredLesson, Turn

if TYPE_CHECKING:
    from tutor.options import Message, Usage

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lowercase: no 0/1/8/9 to mistype
ID_LENGTH = 6  # 32**6 is about a billion: collisions are rare and retried


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class HistoryStore:
    """Reads and writes lessons. Each write is one short transaction.

    Args:
        conn: an open connection from `tutor.history.db.connect`.
        path: the database file, for messages.
        clock: Unix time for timestamps.
        writer: identifies this process on the turns it streams (`writer_token()`).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: Path,
        clock: Callable[[], float] = time.time,
        writer: str | None = None,
    ) -> None:
        self.conn = conn
        self.path = path
        self.clock = clock
        self.writer = writer or writer_token()

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        create: bool = True,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> HistoryStore | None:
        """The store at `path` (default `history_path()`); None when `create` is False and there
        is no database yet. See `tutor.history.db.connect` for the rest."""
        path = path if path is not None else history_path()
        conn = connect(path, create=create, notify=notify, clock=clock)
        return None if conn is None else cls(conn, path=path, clock=clock)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _sql(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            yield self.conn
        except sqlite3.Error as exc:
            if is_damaged(exc):
                raise StoreError(
                    f"the history database {self.path} is damaged ({exc}): move it away and tutor starts a new one"
                ) from None
            raise StoreError(f"cannot {doing} the history database {self.path}: {exc}") from None

    # --- writing -------------------------------------------------------------------------

    def new_lesson(self, *, topic: str, level: str, backend: str, model: str, prompts: str,
                   messages: list[Message], notes: list[str] | None = None) -> str:
        """Add a lesson with no turns yet; return its ID.

        Args:
            notes: the `--notes` paths the lesson is grounded in, for resume.
        """
        now = self.clock()
        with self._sql("write"), transaction(self.conn) as conn:
            while True:
                lesson_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
                try:
                    conn.execute(
                        "INSERT INTO lessons (id, topic, level, backend, model, prompts, messages, notes,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (lesson_id, topic, level, backend, model, prompts, _dump(messages),
                         json.dumps(notes) if notes else None, now, now),
                    )
                    return lesson_id
                except sqlite3.IntegrityError:
                    continue

    def start_turn(self, lesson_id: str, *, feedback: str | None, backend: str, model: str,
                   messages: list[Message], retry: bool = False) -> int:
        """Add a `streaming` turn owned by this process; return its number.

        Args:
            feedback: what the learner asked for; for a retry, the feedback being retried.
            retry: the turn answers the previous turn's request again (`/retry`).
        """
        now = self.clock()
        with self._sql("write"), transaction(self.conn) as conn:
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM turns WHERE lesson_id = ?", (lesson_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO turns (lesson_id, seq, feedback, retry, status, backend, model, started_at, writer)"
                " VALUES (?, ?, ?, ?, 'streaming', ?, ?, ?, ?)",
                (lesson_id, seq, feedback, int(retry), backend, model, now, self.writer),
            )
            conn.execute(
                "UPDATE lessons SET messages = ?, updated_at = ? WHERE id = ?", (_dump(messages), now, lesson_id)
            )
        return seq

    def save_partial(self, lesson_id: str, seq: int, text: str) -> None:
        """Store the text streamed so far (a finished turn is left alone)."""
        with self._sql("write"), transaction(self.conn) as conn:
            conn.execute(
                "UPDATE turns SET answer = ? WHERE lesson_id = ? AND seq = ? AND status = 'streaming'",
                (text, lesson_id, seq),
            )

    def finish_turn(self, lesson_id: str, seq: int, *, answer: str, status: str, error: str | None,
                    usage: Usage | None, messages: list[Message]) -> None:
        """Record how the turn ended, and the messages to resume from."""
        now = self.clock()
        fields: dict[str, Any] = {"answer": answer, "status": status, "error": error, "finished_at": now}
        if usage is not None:
            fields.update(
                backend=usage.backend,
                model=usage.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                time_to_first_token=usage.time_to_first_token,
                tokens_per_second=usage.tokens_per_second,
            )
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        with self._sql("write"), transaction(self.conn) as conn:
            conn.execute(
                f"UPDATE turns SET {assignments} WHERE lesson_id = :lesson_id AND seq = :seq",
                {**fields, "lesson_id": lesson_id, "seq": seq},
            )
            conn.execute(
                "UPDATE lessons SET messages = ?, updated_at = ?,"
                " (backend, model) = (SELECT backend, model FROM turns WHERE lesson_id = ? AND seq = ?)"
                " WHERE id = ?",
                (_dump(messages), now, lesson_id, seq, lesson_id),
            )

    def delete(self, lesson_id: str) -> str | None:
        """Delete a lesson and its turns; return its topic (None when there was no such lesson).

        Reads nothing else, so a lesson too damaged to show can still be deleted.
        """
        with self._sql("write"), transaction(self.conn) as conn:
            row = conn.execute("SELECT topic FROM lessons WHERE id = ?", (lesson_id,)).fetchone()
            conn.execute("DELETE FROM lessons WHERE id = ?", (lesson_id,))
        return None if row is None else str(row["topic"])

    # --- reading -------------------------------------------------------------------------

    def resolve(self, prefix: str) -> str:
        """The one lesson ID that starts with `prefix`.

        Raises:
            UsageError: no lesson, or several, match.
        """
        wanted = prefix.strip().lower()
        if not wanted or any(ch not in ID_ALPHABET for ch in wanted):
            raise UsageError(f'"{prefix}" is not a lesson ID (IDs look like k3xq7a; tutor history lists them)')
        with self._sql("read") as conn:
            rows = conn.execute(
                "SELECT id FROM lessons WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 4", (len(wanted), wanted)
            ).fetchall()
        if not rows:
            raise UsageError(f'no lesson matches "{prefix}" (tutor history lists them)')
        if len(rows) > 1:
            ids = ", ".join(row["id"] for row in rows[:3]) + (", ..." if len(rows) > 3 else "")
            raise UsageError(f'"{prefix}" matches several lessons ({ids}): type more of the ID')
        return rows[0]["id"]

    def latest_id(self) -> str | None:
        with self._sql("read") as conn:
            row = conn.execute("SELECT id FROM lessons ORDER BY updated_at DESC, rowid DESC LIMIT 1").fetchone()
        return row["id"] if row else None

    def lessons(self, text: str | None = None, *, limit: int = 20) -> list[LessonSummary]:
        """Recent lessons, latest activity first; `text` matches topics, feedback and answers."""
        pattern = None if not text else f"%{_escape_like(text)}%"
        with self._sql("read") as conn:
            rows = conn.execute(
                """
                SELECT l.id, l.topic, l.level, l.backend, l.model, l.created_at, l.updated_at,
                       (SELECT count(*) FROM turns t WHERE t.lesson_id = l.id) AS turns,
                       last.status, last.writer
                FROM lessons l
                LEFT JOIN turns last ON last.lesson_id = l.id
                     AND last.seq = (SELECT max(seq) FROM turns t WHERE t.lesson_id = l.id)
                WHERE :pattern IS NULL OR l.topic LIKE :pattern ESCAPE '\\' OR EXISTS (
                    SELECT 1 FROM turns t WHERE t.lesson_id = l.id
                    AND (t.feedback LIKE :pattern ESCAPE '\\' OR t.answer LIKE :pattern ESCAPE '\\'))
                ORDER BY l.updated_at DESC, l.rowid DESC
                LIMIT :limit
                """,
                {"pattern": pattern, "limit": limit},
            ).fetchall()
        return [
            LessonSummary(
                id=row["id"], topic=row["topic"], level=row["level"], backend=row["backend"], model=row["model"],
                created_at=row["created_at"], updated_at=row["updated_at"], turns=row["turns"],
                status=_effective_status(row["status"], row["writer"]),
            )
            for row in rows
        ]

    def load(self, lesson_id: str) -> StoredLesson:
        with self._sql("read") as conn:
            row = conn.execute("SELECT * FROM lessons WHERE id = ?", (lesson_id,)).fetchone()
            if row is None:
                raise UsageError(f'no lesson "{lesson_id}" (tutor history lists them)')
            turn_rows = conn.execute("SELECT * FROM turns WHERE lesson_id = ? ORDER BY seq", (lesson_id,)).fetchall()
        damaged = [name for name in ("topic", "messages") if isinstance(row[name], DamagedText)]
        try:
            messages = json.loads(row["messages"])
        except ValueError:
            messages = None  # show and export still work; resume says it cannot
            if "messages" not in damaged:
                damaged.append("messages")
        for t in turn_rows:
            fields = [name for name in ("feedback", "answer", "error") if isinstance(t[name], DamagedText)]
            if fields:
                damaged.append(f"turn {t['seq']} ({', '.join(fields)})")
        turns = [
            Turn(
                seq=t["seq"], feedback=t["feedback"], answer=t["answer"],
                status=_effective_status(t["status"], t["writer"]), error=t["error"],
                backend=t["backend"], model=t["model"], prompt_tokens=t["prompt_tokens"],
                completion_tokens=t["completion_tokens"], time_to_first_token=t["time_to_first_token"],
                tokens_per_second=t["tokens_per_second"], started_at=t["started_at"], finished_at=t["finished_at"],
                retry=bool(t["retry"]),
            )
            for t in turn_rows
        ]
        return StoredLesson(
            id=row["id"], topic=row["topic"], level=row["level"], backend=row["backend"], model=row["model"],
            prompts=row["prompts"], messages=messages, created_at=row["created_at"],
            updated_at=row["updated_at"], turns=turns, notes=_notes(row["notes"]), damaged=damaged,
            quiz=quiz_items(self.conn, lesson_id),
        )

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _effective_status(status: str | None, writer: str | None) -> str | None:
    """A turn still marked `streaming` whose process is gone was interrupted."""
    if status == "streaming" and not writer_alive(writer):
        return "interrupted"
    return status


def _notes(stored: str | None) -> list[str]:
    """The lesson's notes paths; a value that is not a JSON list of strings reads as none."""
    try:
        paths = json.loads(stored) if stored else []
    except ValueError:
        return []
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


def _dump(messages: list[Message]) -> str:
    return json.dumps(list(messages), ensure_ascii=False)
