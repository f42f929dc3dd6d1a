"""Show an answer as it streams: live Markdown in a terminal, plain text anywhere else.

`stream_markdown` prints each finished top-level block once, above a `rich.live.Live`
region that holds only the open tail block. Block boundaries come from markdown-it (see
`tutor.markdown_blocks`); the tail is re-parsed only when a newline arrives, and only the
uncommitted tail, so the cost stays linear in the answer's length. The final output reads
exactly like `render_markdown` of the whole answer.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.segment import Segment

from tutor.markdown_blocks import (
    TutorMarkdown,
    block_split,
    may_close_fence,
    normalize_newlines,
)
from tutor.safe_text import safe_text

# A one-line paragraph rendered before a block puts Rich's Markdown in the state it has after
# any block but a horizontal rule: the next block gets its blank separator line.
_PRIMER = "x\n\n"

Lines = list[list[Segment]]


def render_markdown(text: str, console: Console) -> None:
    """Print a whole answer at once, with the same math handling as `stream_markdown`."""
    console.print(TutorMarkdown(text))


def stream_plain(chunks: Iterable[str], file: TextIO) -> str:
    """Write chunks to `file` as they arrive, terminal-safe (`safe_text`); return the whole
    text as received.

    Ends with a newline when the text is not empty and did not end with one, also when the
    iterator raises (the exception then propagates unchanged).
    """
    parts: list[str] = []
    try:
        for chunk in chunks:
            parts.append(chunk)
            file.write(safe_text(chunk))
            file.flush()
    finally:
        text = "".join(parts)
        if text and not text.endswith("\n"):
            file.write("\n")
        file.flush()
    return text


def stream_markdown(
    chunks: Iterable[str],
    console: Console,
    *,
    refresh_per_second: float = 8.0,
    clock: Callable[[], float] | None = None,
) -> str:
    """Stream chunks as live Markdown; return the whole text.

    Args:
        chunks: the answer's text pieces, in order.
        console: where to draw. When it is not a terminal, the text streams plain.
        refresh_per_second: how often the live tail block is redrawn.
        clock: None redraws from Rich's refresh thread. A callable (seconds) redraws on
            chunk arrival instead, when `1 / refresh_per_second` has passed on that clock:
            no thread, so tests get exact frames.

    Whatever the iterator raises (KeyboardInterrupt included) propagates unchanged, after
    everything received so far has been printed for good.
    """
    if not console.is_terminal:
        return stream_plain(chunks, console.file)
    stream = _BlockStream(console)
    live = Live(
        _TailView(stream),
        console=console,
        auto_refresh=clock is None,
        refresh_per_second=refresh_per_second,
        transient=True,  # the tail is printed for good by stream.finish()
    )
    interval = 1.0 / refresh_per_second
    live.start()
    try:
        next_frame = float("-inf")
        for chunk in chunks:
            stream.feed(chunk)
            if clock is not None and (now := clock()) >= next_frame:
                live.refresh()
                next_frame = now + interval
    finally:
        stream.hide_tail()
        live.stop()
        stream.finish()
    return stream.text()


class _BlockStream:
    """The answer so far, split into printed blocks and the open tail.

    Only the main thread mutates it; `_TailView` reads `tail()` from Live's refresh thread,
    which is why the tail's two parts are swapped in as one tuple.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.parts: list[str] = []  # every chunk, for the returned text
        # (complete uncommitted lines, pieces of the current partial line)
        self._tail: tuple[str, list[str]] = ("", [])
        self._unprinted = ""  # finished blocks on their way to the console
        self.blank_before = False  # Rich's new_line flag after the printed blocks
        self.version = 0  # bumped on every change of the tail, so the view can cache
        self.hidden = False
        self._open_fence: str | None = None  # the tail is a top-level fence with this marker

    def text(self) -> str:
        return "".join(self.parts)

    def tail(self) -> str:
        lines, partial = self._tail
        return lines + normalize_newlines("".join(partial))

    def feed(self, chunk: str) -> None:
        self.parts.append(chunk)
        lines, partial = self._tail
        if "\n" not in chunk:
            partial.append(chunk)
            self.version += 1
            return
        pending = "".join(partial) + chunk
        cut = pending.rindex("\n") + 1
        new_lines = normalize_newlines(pending[:cut])
        lines += new_lines
        rest = [pending[cut:]] if cut < len(pending) else []
        if self._open_fence and not may_close_fence(new_lines, self._open_fence):
            self._tail = (lines, rest)  # still inside the same code fence: nothing ends
            self.version += 1
            return
        offset, blank_after, self._open_fence = block_split(lines)
        # Hand the finished blocks over before the view loses them, so an interrupt
        # anywhere in between still gets them printed by finish().
        self._unprinted = lines[:offset]
        self._tail = (lines[offset:], rest)
        self.version += 1
        if offset:
            with _ctrl_c_after():  # else Ctrl-C mid-print shows the block's start twice
                self._print(self._unprinted)
                self._unprinted, self.blank_before = "", blank_after

    def hide_tail(self) -> None:
        """Make the live view empty, so stopping Live draws and erases nothing."""
        self.hidden = True
        self.version += 1

    def finish(self) -> None:
        """Print everything not yet printed for good (after Live has stopped)."""
        self._print(self._unprinted + self.tail())
        self._unprinted = ""
        self._tail = ("", [])

    def _print(self, markdown: str) -> None:
        console = self.console
        lines = _render_lines(console, console.options, markdown, self.blank_before)
        if lines:
            self.console.print(_Lines(lines))


@contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until the block is done, then raise it.

    A block is printed and marked printed together: an interrupt between the two would make
    `finish()` print it a second time.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers; it is the one interrupted
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


def _render_lines(
    console: Console, options: ConsoleOptions, markdown: str, blank_before: bool
) -> Lines:
    """Render whole blocks exactly as Rich renders them inside a longer answer.

    Args:
        blank_before: Rich's new_line flag left by the previous block, i.e. whether these
            blocks start with a blank separator line. Rich decides that inside one render,
            so we render a one-line primer paragraph first and drop its lines.
    """
    if not markdown:
        return []
    if not blank_before:
        return console.render_lines(TutorMarkdown(markdown), options, pad=False)
    lines = console.render_lines(TutorMarkdown(_PRIMER + markdown), options, pad=False)
    skip = len(console.render_lines(TutorMarkdown(_PRIMER), options, pad=False))
    return lines[skip:]


class _Lines:
    """Already rendered lines, printed as they are."""

    def __init__(self, lines: Lines) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from line
            yield newline


class _TailView:
    """The live region: the open tail block, cut to its last lines when taller than the screen.

    A live region taller than the terminal cannot be erased (its top has scrolled away), so
    its lines would be duplicated in scrollback (rich#3263). The whole block is printed once
    it is finished.
    """

    def __init__(self, stream: _BlockStream) -> None:
        self.stream = stream
        self._cache: tuple[tuple[int, int, int, bool], Lines] | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        stream = self.stream
        key = (stream.version, options.max_width, options.size.height, stream.hidden)
        if self._cache is not None and self._cache[0] == key:
            lines = self._cache[1]
        else:
            lines = []
            if not stream.hidden:
                lines = _render_lines(console, options, stream.tail(), stream.blank_before)
                lines = lines[-max(1, options.size.height - 1) :]
            self._cache = (key, lines)
        yield from _Lines(lines).__rich_console__(console, options)
