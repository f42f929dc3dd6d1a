"""Small pieces of terminal output shared by the commands: errors, notices, the usage footer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tutor.options import Usage
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


def print_error(console: Console, message: object) -> None:
    """`error: ...` on the (stderr) console: one line off a terminal; on one, wrapped between
    words (the terminal's own wrapping would split words and start lines with a space)."""
    console.print(f"[bold red]error:[/] {escape(str(message))}", soft_wrap=not console.is_terminal, highlight=False)


def print_notice(console: Console, message: str) -> None:
    """`note: ...`, wrapped as `print_error` wraps."""
    console.print(f"[yellow]note:[/] {escape(message)}", soft_wrap=not console.is_terminal, highlight=False)


# Shorter loads are not a wait anyone notices; the footer leaves them out.
SHOWN_LOAD_S = 0.05


def footer_text(usage: Usage, *, load_seconds: float | None = None) -> Text:
    """`local:smollm2 · 95 prompt + 717 answer tokens · model load 2.21 s · first token 0.41 s · 52.3 tok/s`.

    Args:
        load_seconds: how long loading the backend took before this answer (the learner
            waited for it before the first token too); None or a negligible time is not shown.
    """
    parts = [f"{usage.backend}:{usage.model}"]
    if usage.completion_tokens is not None:
        prompt = f"{usage.prompt_tokens} prompt + " if usage.prompt_tokens is not None else ""
        parts.append(f"{prompt}{usage.completion_tokens} answer tokens")
    if load_seconds is not None and load_seconds >= SHOWN_LOAD_S:
        what = "model load" if usage.backend == "local" else "client start"
        parts.append(f"{what} {load_seconds:.2f} s")
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
