"""What tutor prints on a console besides the answers themselves: `error: ...` and `note: ...`
lines, the usage footer under an answer, and the `/sources` table. Library code (the lesson
loop, quizzes) and the CLI share them; the notes package itself returns plain data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tutor.options import Usage

if TYPE_CHECKING:
    from rich.table import Table

    from tutor.notes.index import Passage


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


def sources_table(passages: Sequence[Passage]) -> Table | str:
    """What `/sources` shows: each passage used, with its citation, heading and opening words."""
    if not passages:
        return "No notes passages were used in this lesson."
    from rich.table import Table  # not for `tutor --help`

    from tutor.notes.grounding import clip

    table = Table(title="Sources from your notes", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("citation", no_wrap=True)
    table.add_column("section")
    table.add_column("starts with", style="dim")
    for number, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        cells = (chunk.citation, chunk.heading or "-", clip(chunk.text, 12))
        table.add_row(str(number), *(Text(cell) for cell in cells))  # notes text is never markup
    return table
