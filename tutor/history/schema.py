"""The history database's tables, as migrations: MIGRATIONS[n] takes user_version n to n + 1."""

from __future__ import annotations

import sqlite3
from typing import Callable


def _v1(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE lessons (
            id TEXT PRIMARY KEY,          -- 6 characters of lowercase base32
            topic TEXT NOT NULL,
            level TEXT NOT NULL,
            backend TEXT NOT NULL,        -- of the latest answer ("openai", "local")
            model TEXT NOT NULL,
            prompts TEXT NOT NULL,        -- PromptSet.fingerprint() of the prompts used
            messages TEXT NOT NULL,       -- JSON chat messages, enough to resume
            created_at REAL NOT NULL,     -- Unix seconds
            updated_at REAL NOT NULL
        );
        CREATE INDEX lessons_by_update ON lessons (updated_at);
        CREATE TABLE turns (
            lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,         -- 1 for the first answer
            feedback TEXT,                -- NULL for the first explanation
            answer TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('streaming', 'done', 'interrupted', 'error')),
            error TEXT,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            time_to_first_token REAL,     -- seconds
            tokens_per_second REAL,
            started_at REAL NOT NULL,
            finished_at REAL,
            writer TEXT,                  -- "pid:start-time" of the process streaming it
            PRIMARY KEY (lesson_id, seq)
        );
        """,
    )


def _v2(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- 1 when the turn answers the previous turn's request again (/retry)
        ALTER TABLE turns ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;
        -- the --notes paths of the lesson as a JSON list (NULL: none), for resume
        ALTER TABLE lessons ADD COLUMN notes TEXT
        """,
    )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (`executescript` would
    commit it first). Only the `;` that end statements may appear, comments included."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v3(conn: sqlite3.Connection) -> None:
    """Quizzes (issue 15): the questions asked in a lesson, the review cards made from them,
    and the learner profile."""
    _run_script(
        conn,
        """
        CREATE TABLE quiz_items (
            lesson_id TEXT NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
            quiz INTEGER NOT NULL,        -- 1 for the lesson's first quiz
            seq INTEGER NOT NULL,         -- the question's number in its quiz
            after_turn INTEGER,           -- the answer (turn seq) the questions were about
            difficulty TEXT NOT NULL,
            question TEXT NOT NULL,
            reference TEXT NOT NULL,
            concept TEXT NOT NULL,
            attempts TEXT NOT NULL,       -- JSON list of answer and grade pairs
            hint TEXT,                    -- the hint shown before a second try
            outcome TEXT NOT NULL CHECK (outcome IN ('correct', 'partly', 'incorrect', 'skipped', 'revealed')),
            created_at REAL NOT NULL,
            PRIMARY KEY (lesson_id, quiz, seq)
        );
        CREATE TABLE review_cards (
            id INTEGER PRIMARY KEY,
            lesson_id TEXT REFERENCES lessons (id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            question TEXT NOT NULL,
            reference TEXT NOT NULL,
            concept TEXT NOT NULL,
            fsrs TEXT NOT NULL,           -- the scheduler's card, as fsrs.Card.to_json()
            due REAL NOT NULL,            -- Unix seconds, copied from the card for the index
            reviews INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE INDEX review_cards_by_due ON review_cards (due);
        CREATE TABLE review_log (
            card_id INTEGER NOT NULL REFERENCES review_cards (id) ON DELETE CASCADE,
            answer TEXT,                  -- NULL when skipped or revealed
            grade TEXT,                   -- JSON, as stored for quiz attempts
            rating TEXT NOT NULL,         -- again, hard or good
            reviewed_at REAL NOT NULL
        );
        CREATE TABLE profile (
            key TEXT PRIMARY KEY,         -- level, preferences, feedback_counts, missed, notes
            value TEXT NOT NULL           -- JSON
        );
        """,
    )


# Ordered: MIGRATIONS[n] takes a database from user_version n to n + 1. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)
