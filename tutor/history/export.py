"""A stored lesson as a Markdown document or as JSON (`tutor export`, `tutor show --all`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from tutor.history.records import StoredLesson, Turn

FORMAT_NAME = "tutor-lesson"  # the JSON says what it is, and which layout it follows
FORMAT_VERSION = 1


def iso_utc(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def document_title(topic: str, level: str, model: str, created_at: float, lesson_id: str | None = None) -> list[str]:
    """The blocks every Markdown document about a lesson starts with: the topic, then a line
    with the level, `backend:model`, the date and the lesson ID (`/save` has none)."""
    when = datetime.fromtimestamp(created_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    details = [level, model, when] + ([f"lesson {lesson_id}"] if lesson_id else [])
    return [f"# {topic}", "*" + " · ".join(details) + "*"]


def to_markdown(lesson: StoredLesson) -> str:
    """The topic as the title, then each answer (and the feedback that asked for it) as sections.
    A retried answer does not repeat its feedback: its heading says it is a retry."""
    blocks = document_title(lesson.topic, lesson.level, f"{lesson.backend}:{lesson.model}", lesson.created_at, lesson.id)
    for turn in lesson.turns:
        if turn.feedback is not None and not turn.retry:
            quoted = "\n".join(f"> {line}".rstrip() for line in turn.feedback.splitlines() or [""])
            blocks += ["## Feedback", quoted]
        blocks += [f"## {_heading(turn)}", turn.answer.strip() or "*(no text)*"]
        if turn.status == "error" and turn.error:
            blocks.append(f"*Error: {turn.error}*")
    return "\n\n".join(blocks) + "\n"


def answer_heading(feedback: str | None, *, retry: bool = False, status: str = "done") -> str:
    """`Explanation`, `Revised explanation`, with `(retry)` and how it ended when not done."""
    title = "Explanation" if feedback is None else "Revised explanation"
    suffix = {"interrupted": " (interrupted)", "error": " (failed)", "streaming": " (still streaming)"}
    return title + (" (retry)" if retry else "") + suffix.get(status, "")


def _heading(turn: Turn) -> str:
    return answer_heading(turn.feedback, retry=turn.retry, status=turn.status)


def to_json(lesson: StoredLesson) -> str:
    """Everything stored about the lesson, including the messages needed to resume it."""
    document: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "id": lesson.id,
        "topic": lesson.topic,
        "level": lesson.level,
        "backend": lesson.backend,
        "model": lesson.model,
        "prompts": lesson.prompts,
        "notes": lesson.notes,
        "created_at": iso_utc(lesson.created_at),
        "updated_at": iso_utc(lesson.updated_at),
        "turns": [
            {
                "feedback": turn.feedback,
                "retry": turn.retry,
                "answer": turn.answer,
                "status": turn.status,
                "error": turn.error,
                "backend": turn.backend,
                "model": turn.model,
                "prompt_tokens": turn.prompt_tokens,
                "completion_tokens": turn.completion_tokens,
                "time_to_first_token": turn.time_to_first_token,
                "tokens_per_second": turn.tokens_per_second,
                "started_at": iso_utc(turn.started_at),
                "finished_at": iso_utc(turn.finished_at),
            }
            for turn in lesson.turns
        ],
        "messages": lesson.messages,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
