"""Small pieces of terminal output shared by the commands: errors, notices, the usage footer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tutor.backends.base import Usage
from tutor.safe_text import SafeConsole


def stdout_console(**options: Any) -> Console:
    """Answers, tables and lessons for every command; terminal-safe (`tutor.safe_text`).
    `options` go to Rich's `Console`."""
    return SafeConsole(**options)


def stderr_console() -> Console:
    """Notices, errors and progress for every command. Bound to the stderr of now, so that a
    library silencing its own output with redirect_stderr cannot hide ours, and without Rich's
    highlighter, which would split "(interrupted)" and error text with colour codes.
    Terminal-safe, as server errors and notes are quoted here (`tutor.safe_text`)."""
    return SafeConsole(file=sys.stderr, highlight=False)


def print_error(console: Console, message: object) -> None:
    """One line on the (stderr) console: `error: ...`."""
    console.print(f"[bold red]error:[/] {escape(str(message))}", soft_wrap=True, highlight=False)


def print_notice(console: Console, message: str) -> None:
    console.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True, highlight=False)


def footer_text(usage: Usage) -> Text:
    """`gpt-4o-mini · 95 prompt + 717 answer tokens · first token 0.41 s · 52.3 tok/s`."""
    parts = [f"{usage.backend}:{usage.model}"]
    if usage.completion_tokens is not None:
        prompt = f"{usage.prompt_tokens} prompt + " if usage.prompt_tokens is not None else ""
        parts.append(f"{prompt}{usage.completion_tokens} answer tokens")
    if usage.time_to_first_token is not None:
        parts.append(f"first token {usage.time_to_first_token:.2f} s")
    speed = usage.tokens_per_second
    if speed is not None:
        parts.append(f"{speed:.1f} tok/s")
    return Text(" · ".join(parts), style="dim")


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
