"""Terminal side of notes grounding (`--notes`): indexing with warnings, a progress bar and the
index summary, the passages for the first request, and the notes of a resumed lesson."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.markup import escape

from tutor.cli.progress import RichIndexProgress
from tutor.notes import ENV_NAME, GroundedContext, Grounding, NotesIndex, paths_from_env
from tutor.prompts import PromptSet

def notes_paths(flag: Sequence[Path] | None, environ: dict[str, str] | None = None) -> list[Path]:
    """`--notes` values, else `TUTOR_NOTES`; empty when neither is given."""
    if flag:
        return list(flag)
    return paths_from_env((environ if environ is not None else os.environ).get(ENV_NAME))


def lesson_grounding(notes: Sequence[Path] | None, prompts: PromptSet, topic: str, err: Console):
    """`--notes` (or TUTOR_NOTES): the lesson's notes index, the passages for its first
    request, and the notes paths made absolute (for resume); (None, None, None) without notes."""
    paths = notes_paths(notes)
    if not paths:
        return None, None, None
    grounding = open_grounding(paths, prompts, err)
    absolute = [str(path.expanduser().absolute()) for path in paths]
    return grounding, topic_context(grounding, topic, err), absolute


def open_grounding(paths: Sequence[Path], prompts: PromptSet, err: Console) -> Grounding:
    """Index `paths` (warnings and progress on `err`) and return a Grounding for the lesson.

    Raises:
        NotesError: the notes cannot be used at all.
    """
    index = NotesIndex(paths)
    update = index.refresh(
        warn=lambda message: err.print(f"[yellow]warning:[/] {escape(message)}"),
        progress=RichIndexProgress(err),
    )
    changes = [f"{len(v)} {name}" for name, v in
               (("added", update.added), ("changed", update.changed), ("removed", update.removed)) if v]
    err.print(f"[dim]notes: {len(index.chunks)} passages from {len(index.files)} files"
              + (f" ({', '.join(changes)})" if changes and update.unchanged else "") + "[/]")
    return Grounding(index, prompts)


def topic_context(grounding: Grounding | None, topic: str, err: Console) -> GroundedContext:
    """The passages for the first request (none without notes); says so when nothing matched."""
    if grounding is None:
        return GroundedContext()
    context = grounding.for_topic(topic)
    if not context.passages:
        err.print(f"[yellow]notes:[/] no passage matches {escape(topic)}; answering without notes")
    return context


def restore_grounding(
    paths: Sequence[str], topic: str, feedbacks: Sequence[str], prompts: PromptSet, err: Console
) -> Grounding | None:
    """The notes grounding of a resumed lesson: its stored notes paths indexed again, and the
    retrieval of its first request and of each feedback replayed, so `/sources` lists what the
    lesson used and new feedback leaves those passages out. None, after a notice, when the
    notes cannot be used any more (the lesson then goes on without them)."""
    from tutor.errors import TutorError

    present = [Path(p) for p in paths if Path(p).exists()]
    gone = [p for p in paths if not Path(p).exists()]
    if gone:
        err.print(f"[yellow]notes:[/] {escape(', '.join(gone))} no longer exist; resuming without them", soft_wrap=True)
    if not present:
        return None
    try:
        grounding = open_grounding(present, prompts, err)
    except TutorError as exc:
        err.print(f"[yellow]notes:[/] not restored ({escape(str(exc))}); resuming without them", soft_wrap=True)
        return None
    grounding.for_topic(topic)
    for feedback in feedbacks:
        grounding.for_feedback(topic, feedback)
    return grounding
