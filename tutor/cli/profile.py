"""`tutor profile`, and the learner profile's part in a lesson: its paragraph in the system
prompt, its level, and what it learns from feedback.

The functions are plain Typer commands and helpers; `tutor.cli.app` registers the command.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable

import typer

from tutor.cli.console import stderr_console
from tutor.cli.storage import history_conn
from tutor.errors import UsageError

if TYPE_CHECKING:
    from tutor.config import Settings
    from tutor.quiz.profile import Profile


class ProfileAction(str, Enum):
    show = "show"
    edit = "edit"
    reset = "reset"


def load_profile() -> Profile:
    from tutor.quiz.profile import Profile, ProfileStore

    conn = history_conn()
    if conn is None:
        return Profile()
    try:
        return ProfileStore(conn).load()
    finally:
        conn.close()


def apply_profile(settings: Settings, *, use: bool, remember_level: bool) -> str:
    """Use the profile's level when none was given, remember a given one, and return the
    paragraph for the system prompt ("" when the profile is off or empty)."""
    from tutor.prompts import PromptSet, shipped_prompts_dir

    if not use:
        return ""
    profile = load_profile()
    given = settings.sources.get("level")
    if given is None and profile.level:
        settings.level = profile.level
    elif given is not None and remember_level and profile.level != settings.level:
        profile.level = settings.level
        _save_profile(profile)
    paragraph = profile.paragraph()
    return PromptSet(shipped_prompts_dir()).render("profile", profile=paragraph) if paragraph else ""


def _save_profile(profile: Profile) -> None:
    from tutor.quiz.profile import ProfileStore

    conn = history_conn(create=True)
    if conn is None:
        return
    try:
        ProfileStore(conn).save(profile)
    finally:
        conn.close()


def feedback_observer(notify: Callable[[str], None]) -> Callable[[str], None]:
    """Counts each feedback line into the profile; says so when a new preference is inferred."""
    from tutor.errors import TutorError
    from tutor.quiz.profile import ProfileStore

    def observe(feedback: str) -> None:
        conn = history_conn(create=True)
        if conn is None:
            return
        try:
            store = ProfileStore(conn)
            profile = store.load()
            added = profile.observe_feedback(feedback)
            store.save(profile)
        except TutorError:
            return
        finally:
            conn.close()
        for preference in added:
            notify(f"your profile now says you {preference} (tutor profile edit changes it)")

    return observe


def profile(
    action: Annotated[ProfileAction, typer.Argument(help="show (default), edit in $EDITOR, or reset.")] = ProfileAction.show,
) -> None:
    """Your learner profile: level, preferences inferred from your feedback, missed concepts."""
    from tutor.quiz.profile import ProfileStore, from_text, to_text

    err = stderr_console()
    if action == ProfileAction.show:
        current = load_profile()
        if current.empty:
            err.print("your profile is empty: it fills in from your feedback and quizzes (or: tutor profile edit)", soft_wrap=True)
            return
        from tutor.render import stream_plain

        # Through the renderer's plain path: concepts came from a model, and display-time
        # sanitizing lives there.
        stream_plain(iter([to_text(current).split("\n", 2)[2]]), sys.stdout)
        return
    conn = history_conn(create=True)
    if conn is None:
        raise UsageError("the history database cannot be opened, so there is no profile")
    try:
        store = ProfileStore(conn)
        if action == ProfileAction.reset:
            store.reset()
            err.print("[green]profile cleared[/]")
            return
        edited = _edit(to_text(store.load()))
        store.save(from_text(edited, base=store.load()))
        err.print("[green]profile saved[/]")
    finally:
        conn.close()


def _edit(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tutor-profile.txt"
        path.write_text(text, encoding="utf-8")
        try:
            code = subprocess.call([*shlex.split(editor), str(path)])
        except OSError as exc:
            raise UsageError(f"cannot start the editor {editor!r} ({exc.strerror or exc}); set EDITOR") from None
        if code != 0:
            raise UsageError(f"the editor {editor!r} exited with status {code}; the profile is unchanged")
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the edited profile: {exc}") from None
