"""The short lines tutor prints on a console around its answers: `error: ...`, `note: ...` and
the usage footer under an answer. Library code (the lesson loop, quizzes) and the CLI share them.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tutor.options import Usage


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
