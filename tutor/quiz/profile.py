"""The learner profile: level, preferences inferred from repeated feedback, missed concepts.

It lives in the history database (table `profile`), goes into new lessons' system prompt as a
short paragraph, and can be edited as plain text (`tutor profile edit`). Nothing here does I/O
beyond the connection it is given.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Iterable

from tutor.errors import StoreError, UsageError
from tutor.history.db import transaction

LEVELS = ("beginner", "intermediate", "expert")
THRESHOLD = 3  # the same kind of feedback this many times makes it a preference
MAX_MISSED = 12  # the most recent missed concepts kept

# (preference, what in the feedback shows it). Order is the order shown.
PREFERENCE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("asks for code examples", r"\bcode\b|\bsnippets?\b|\bprogram\b|\bin python\b"),
        ("prefers analogies", r"\banalog|\bmetaphor|\blike i'?m (five|5)\b|\beli5\b"),
        ("prefers simpler explanations", r"\bsimpl|\beasier\b|\bless jargon\b|\bplain(er)? (words|english)\b"),
        ("wants the math", r"\bmath|\bformulas?\b|\bequations?\b|\bderivation\b|\bproofs?\b"),
        ("prefers short answers", r"\bshorter\b|\bconcise\b|\bbrief\b|\btoo long\b|\btl;?dr\b"),
        ("wants more depth", r"\bmore detail|\bdeeper\b|\bin depth\b|\bmore depth\b|\badvanced\b"),
        ("likes worked examples", r"\b(worked |real |concrete )?examples?\b"),
    )
)


@dataclass
class Profile:
    level: str | None = None
    preferences: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # most recent first
    notes: str = ""
    feedback_counts: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.level or self.preferences or self.missed or self.notes)

    def observe_feedback(self, feedback: str) -> list[str]:
        """Count the kinds of request in `feedback`; returns preferences that just became one."""
        added = []
        for name, pattern in PREFERENCE_RULES:
            if pattern.search(feedback):
                count = self.feedback_counts.get(name, 0) + 1
                self.feedback_counts[name] = count
                # Exactly at the threshold: a preference the learner deleted by hand stays deleted.
                if count == THRESHOLD and name not in self.preferences:
                    self.preferences.append(name)
                    added.append(name)
        return added

    def observe_missed(self, concept: str) -> None:
        concept = " ".join(concept.split())
        if concept:
            self.missed = [concept, *[c for c in self.missed if c.lower() != concept.lower()]][:MAX_MISSED]

    def paragraph(self) -> str:
        """The profile as a few sentences for a system prompt; empty when there is nothing.
        The level is left out: it is already in every lesson's explain request."""
        parts = []
        if self.preferences:
            parts.append("From their feedback: they " + "; ".join(self.preferences) + ".")
        if self.missed:
            parts.append("In quizzes they missed: " + "; ".join(self.missed[:6]) + ".")
        if self.notes:
            parts.append(self.notes)
        return " ".join(parts)


def infer_preferences(feedbacks: Iterable[str]) -> list[str]:
    """The preferences a series of feedback lines would give a new profile."""
    profile = Profile()
    for feedback in feedbacks:
        profile.observe_feedback(feedback)
    return profile.preferences


EDIT_HEADER = """\
# Your tutor profile. Lines starting with # are ignored. Save and close to keep your changes.
# level: beginner, intermediate or expert (or leave empty). Preferences and missed concepts: one per line, starting with "- ".
"""


def to_text(profile: Profile) -> str:
    lines = [EDIT_HEADER, f"level: {profile.level or ''}", "preferences:"]
    lines += [f"- {p}" for p in profile.preferences]
    lines.append("missed:")
    lines += [f"- {m}" for m in profile.missed]
    lines.append(f"notes: {profile.notes}")
    return "\n".join(lines) + "\n"


def from_text(text: str, *, base: Profile) -> Profile:
    """Parse an edited profile. Feedback counts are not editable and carry over from `base`.

    Raises:
        UsageError: a line that is not part of the format, or an unknown level.
    """
    profile = Profile(feedback_counts=dict(base.feedback_counts))
    section: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("- ") and section in ("preferences", "missed"):
            getattr(profile, section).append(" ".join(line[2:].split()))
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in ("level", "preferences", "missed", "notes"):
            raise UsageError(f"profile line {number} is not understood: {raw.strip()[:60]!r}")
        section = key
        if key == "level":
            if value and value not in LEVELS:
                raise UsageError(f"profile line {number}: level must be one of {', '.join(LEVELS)}")
            profile.level = value or None
        elif key == "notes":
            profile.notes = value[:500]
        elif value:
            raise UsageError(f"profile line {number}: put {key} on their own lines, starting with '- '")
    return profile


class ProfileStore:
    """Reads and writes the profile on an open history connection (the caller closes it)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def load(self) -> Profile:
        try:
            rows = dict(self.conn.execute("SELECT key, value FROM profile").fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the learner profile: {exc}") from None
        values = {}
        for key, text in rows.items():
            try:
                values[key] = json.loads(text)
            except ValueError:
                continue  # a damaged value is dropped, not fatal
        profile = Profile()
        if values.get("level") in LEVELS:
            profile.level = values["level"]
        for name in ("preferences", "missed"):
            if isinstance(values.get(name), list):
                setattr(profile, name, [str(v) for v in values[name]])
        if isinstance(values.get("notes"), str):
            profile.notes = values["notes"]
        if isinstance(values.get("feedback_counts"), dict):
            profile.feedback_counts = {str(k): int(v) for k, v in values["feedback_counts"].items() if isinstance(v, int)}
        return profile

    def save(self, profile: Profile) -> None:
        values = {
            "level": profile.level,
            "preferences": profile.preferences,
            "missed": profile.missed,
            "notes": profile.notes,
            "feedback_counts": profile.feedback_counts,
        }
        try:
            with transaction(self.conn) as conn:
                conn.execute("DELETE FROM profile")
                conn.executemany(
                    "INSERT INTO profile (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in values.items()],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save the learner profile: {exc}") from None

    def reset(self) -> None:
        self.save(Profile())
