"""Terminal-safe text: what a model, a server, the notes or the history wrote never drives the terminal.

A terminal obeys the control characters in what it prints. An answer holding
``ESC ] 52 ; c ; <base64> ESC \\`` sets the clipboard, ``ESC ] 0 ;`` the window title,
``ESC [ 2J`` clears the screen, and ``ESC [ 6n`` makes the terminal type a reply into our
feedback prompt. Rich strips a few controls (BEL, backspace, CR) but passes ESC and C1.

`safe_text` is the one function that neutralizes them. It is applied at display time, and the
stored history keeps the text exactly as received:

- `SafeConsole` applies it to every text segment Rich renders (answers, tables, errors,
  notices), leaving only Rich's own control segments (styles, cursor moves) untouched. Every
  command's console is one (`tutor.cli.console.stdout_console`, `stderr_console`).
- Raw writes (plain answers, `show` piped, `export` to a terminal, `sample`) call it
  themselves.

Rich lays out a control character one cell wide, like the placeholder that replaces it, so
replacing after layout keeps every line within the terminal's width.

Newline and tab stay. CR is dropped, as Rich drops it, so CRLF text reads normally and a lone
CR cannot overwrite a line. Every other C0 control, DEL, every C1 control (U+0080..U+009F,
which some terminals obey like ESC sequences) and every lone surrogate (undecodable bytes,
which no terminal encoding can write) becomes U+FFFD, the replacement character: it is one
cell wide, shows that something was there, and cannot be mistaken for text the model wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

PLACEHOLDER = "\ufffd"
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _replace(match: re.Match[str]) -> str:
    return "" if match.group() == "\r" else PLACEHOLDER


def safe_text(text: str) -> str:
    """`text` with every control character but newline and tab neutralized (see the module)."""
    if _UNSAFE.search(text) is None:
        return text  # the common case: no copy
    return _UNSAFE.sub(_replace, text)


class SafeConsole(Console):
    """A Rich console whose rendered text is always passed through `safe_text`.

    Rich's own control codes (cursor moves of a live view, styles, hyperlinks it renders)
    travel as control segments or styles, never in segment text, so they are kept.
    """

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and _UNSAFE.search(segment.text) is not None:
                yield Segment(safe_text(segment.text), segment.style)
            else:
                yield segment
