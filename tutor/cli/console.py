"""The commands' consoles (stdout for answers, stderr for everything else), the terminal
setting the live view needs, and TUTOR_DEBUG. The lines printed on them are `tutor.display`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from tutor.safe_text import SafeConsole


# A pipe or a file has no width: Rich would hard-wrap at 80 columns and cut table cells.
UNWRAPPED_WIDTH = 1_000_000


def unwrapped_off_terminal(console: Console) -> Console:
    """`console`, set never to hard-wrap lines or truncate table cells when it does not
    write to a terminal (a pipe, a file, a CI log)."""
    if not console.is_terminal:
        console.width = UNWRAPPED_WIDTH
        console.soft_wrap = True
    return console


def stderr_console() -> Console:
    """Notices, errors and progress for every command. Bound to the stderr of now, so that a
    library silencing its own output with redirect_stderr cannot hide ours, and without Rich's
    highlighter, which would split "(interrupted)" and error text with colour codes.
    Terminal-safe, as server errors and notes are quoted here (`tutor.safe_text`)."""
    return unwrapped_off_terminal(SafeConsole(file=sys.stderr, highlight=False))


def stdout_console(**options: Any) -> Console:
    """Answers, tables and documents (stdout); terminal-safe (`tutor.safe_text`).
    `options` go to Rich's `Console`."""
    return unwrapped_off_terminal(SafeConsole(**options))


@contextmanager
def control_keys_not_echoed(fd: int | None = None) -> Iterator[None]:
    """While a live view is on screen, keep the terminal from echoing Ctrl-C as "^C".

    The echo lands at the cursor, at the end of the live view; when that line is full it
    wraps, the view's height is off by one, and erasing the view leaves its first line on
    screen twice. Nothing changes when `fd` (stdin by default) is not a terminal.
    """
    try:
        import termios
    except ImportError:  # Windows
        yield
        return
    try:
        fd = sys.stdin.fileno() if fd is None else fd
        saved = termios.tcgetattr(fd)
    except (termios.error, OSError, ValueError):  # no stdin, or not a terminal
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~getattr(termios, "ECHOCTL", 0)  # lflag
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


DEBUG_VARIABLE = "TUTOR_DEBUG"


def debug_requested(environ: Mapping[str, str] | None = None) -> bool:
    """TUTOR_DEBUG=1 (or true, yes): let unexpected errors end in their traceback.
    Any other value, `0` included, keeps the one-line message."""
    value = (os.environ if environ is None else environ).get(DEBUG_VARIABLE, "")
    return value.strip().lower() in ("1", "true", "yes")
