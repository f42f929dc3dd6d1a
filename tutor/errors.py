"""Domain errors. The library raises these; only the CLI turns them into messages.

Every message should tell the learner how to fix the problem, in one line.
"""

from __future__ import annotations

# The shell convention for "stopped by Ctrl-C" (128 + SIGINT): the exit code of a command the
# learner interrupted, whichever command it was.
EXIT_INTERRUPTED = 130


def first_line(exc: BaseException) -> str:
    """The first line of a library's error message, or its type when it says nothing: enough
    to put inside one of our one-line messages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class TutorError(Exception):
    """Base class for every error the learner should see as a one-line message."""

    exit_code: int = 1


class UsageError(TutorError):
    """The command line or an option value is wrong (empty topic, out-of-range option)."""

    exit_code = 2


class NotesError(UsageError):
    """The notes cannot be used at all (missing path, no notes in a folder)."""


class SkipFile(Exception):
    """One notes file cannot be read; the message says why. Caught where notes are collected,
    turned into a warning, and never shown as an error: the lesson goes on without that file."""


class ConfigError(TutorError):
    """Settings are missing or inconsistent (no API key, unknown backend)."""

    exit_code = 2


class PromptError(TutorError):
    """A prompt file is missing, or a template names a variable nobody provides."""


class ModelError(TutorError):
    """A local model cannot be found, loaded or used."""


class PullError(TutorError):
    """`tutor pull` cannot fetch, verify or store a model: offline, not found, disk, hash mismatch."""


class BackendError(TutorError):
    """A backend failed to produce an answer.

    Attributes:
        partial: text that had already streamed when the failure happened.
    """

    def __init__(self, message: str, *, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class ContextOverflow(BackendError):
    """The request does not fit the model's context, even with earlier turns left out."""


class AuthenticationError(BackendError):
    """The server refused the credentials (HTTP 401/403)."""


class RateLimitError(BackendError):
    """The server kept answering 429 after the retries we allow."""


class BackendUnavailable(BackendError):
    """Connection refused, timed out, or the server failed (5xx) before answering."""


class StreamBroken(BackendError):
    """The stream stopped part-way: the connection dropped or no finish_reason came."""


class TrainingError(TutorError):
    """`tutor train` cannot proceed (bad data, mismatched checkpoint, write failure)."""


class StoreError(TutorError):
    """The lesson history cannot be read or written."""
