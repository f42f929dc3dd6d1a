"""The answer renderer: live Markdown that ends exactly like a whole render, and plain text.

Streamed terminal output is replayed in a terminal emulator (pyte) with the console's height,
so the assertions see what a learner's screen and scrollback would hold.
"""

from __future__ import annotations

import io
import itertools
import os
import signal
import unicodedata

import pyte
import pytest
from rich.console import Console

from tutor.markdown_blocks import block_split
from tutor.render import render_markdown, stream_markdown, stream_plain

WIDTH = 80

ANSWER = """\
# Recursion, explained

A function is **recursive** when it calls itself. Inline `code` and *emphasis* here.
Inline math \\( a_1 + a_2 \\) stays readable, and so does \\[ x_i^2 \\] mid-line.

## Steps

1. Find the base case.
2. Make the problem smaller:
   - split the input
   - call yourself

     ```python
     def f(n):
         return n * f(n - 1)
     ```
   - combine results
3. Trust the recursion.

- loose item one

- loose item two
  continues here

Display math:

\\[
\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}
\\]

\\[ e^{i\\pi} + 1 = 0 \\]

| Call | n | result |
|------|---|-------:|
| f(3) | 3 | 6 |
| f(2) | 2 | 2 |

> A quote about *recursion*:
> to understand it, you must first understand it.

---
```python
def fact(n: int) -> int:
    if n <= 1:
        return 1
    return n * fact(n - 1)
```
Ünïcödé: 中文, café (e\u0301) → done.
Setext heading
--------------
Final paragraph without a newline"""

# Taller than the 20-line terminal: a long list, a long code block, a long table.
LONG_ANSWER = (
    "# A long answer\n\nIntro paragraph.\n\n"
    + "".join(f"{i}. item number {i} with `code` and some words\n" for i in range(1, 31))
    + "\nBetween.\n\n```python\n"
    + "".join(f"line_{i} = {i} * 2  # comment {i}\n" for i in range(45))
    + "```\n\n| a | b |\n|---|---|\n"
    + "".join(f"| row {i} | {i * i} |\n" for i in range(25))
    + "\n\\[\n"
    + "".join(f"x_{i} = {i} \\\\\n" for i in range(25))
    + "\\]\n\nThe end.\n"
)


def make_console(*, terminal: bool, height: int = 20, colour: str | None = None) -> Console:
    return Console(
        file=io.StringIO(),
        width=WIDTH,
        height=height,
        color_system=colour,
        force_terminal=terminal,
        legacy_windows=False,
    )


def terminal_lines(raw: str, rows: int) -> list[str]:
    """Scrollback then screen of a `rows`-line terminal after `raw` output (tty adds \\r)."""
    screen = pyte.HistoryScreen(WIDTH, rows, history=100_000)
    pyte.Stream(screen).feed(raw.replace("\n", "\r\n"))
    scrolled = ["".join(line[x].data for x in range(WIDTH)) for line in screen.history.top]
    return _trimmed(scrolled + screen.display)


def terminal_cells(raw: str, rows: int) -> list[list[tuple]]:
    """Like `terminal_lines`, with each cell's character and colours/attributes."""
    screen = pyte.HistoryScreen(WIDTH, rows, history=100_000)
    pyte.Stream(screen).feed(raw.replace("\n", "\r\n"))
    lines = [*screen.history.top, *(screen.buffer[y] for y in range(rows))]
    cells = [[tuple(line[x]) for x in range(WIDTH)] for line in lines]
    while cells and all(cell[0] == " " for cell in cells[-1]):
        cells.pop()
    return cells


def _trimmed(lines: list[str]) -> list[str]:
    # pyte composes "e" + U+0301 into one cell; compare composed text on both sides.
    lines = [unicodedata.normalize("NFC", line).rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def whole_render(text: str) -> list[str]:
    console = make_console(terminal=False)
    render_markdown(text, console)
    return _trimmed(console.file.getvalue().split("\n"))


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_in_terminal(chunks, *, height: int = 20, every: int = 1) -> tuple[str, list[str]]:
    """Stream with a frame every `every` chunks; return the text and the terminal's lines."""
    console = make_console(terminal=True, height=height)
    text = stream_markdown(
        chunks, console, refresh_per_second=1 / every, clock=itertools.count().__next__
    )
    return text, terminal_lines(console.file.getvalue(), height)


@pytest.mark.parametrize("size", [1, 3, 8, 64, 10_000])
def test_streamed_answer_ends_exactly_like_a_whole_render(size):
    text, lines = stream_in_terminal(chunked(ANSWER, size))
    assert text == ANSWER
    assert lines == whole_render(ANSWER)


def test_two_chunks_split_anywhere_end_like_a_whole_render():
    expected = whole_render(ANSWER)
    for cut in range(0, len(ANSWER), 11):
        _, lines = stream_in_terminal([ANSWER[:cut], ANSWER[cut:]])
        assert lines == expected, f"split at {cut}: {ANSWER[max(0, cut - 10) : cut]!r}"


@pytest.mark.parametrize("size, every", [(1, 9), (5, 1), (37, 1)])
def test_scrollback_of_a_long_answer_holds_every_line_once_in_order(size, every):
    text, lines = stream_in_terminal(chunked(LONG_ANSWER, size), height=20, every=every)
    expected = whole_render(LONG_ANSWER)
    assert len(expected) > 3 * 20
    assert lines == expected


@pytest.mark.parametrize("size", [3, 29])
def test_streamed_colours_and_styles_match_a_whole_render(size):
    streamed = make_console(terminal=True, colour="truecolor")
    stream_markdown(chunked(ANSWER, size), streamed, clock=itertools.count().__next__)
    whole = make_console(terminal=True, colour="truecolor")
    render_markdown(ANSWER, whole)
    assert "\x1b[38;2;" in whole.file.getvalue()
    expected = terminal_cells(whole.file.getvalue(), 20)
    assert terminal_cells(streamed.file.getvalue(), 20) == expected


def test_block_taller_than_screen_is_cropped_in_the_live_view():
    code = "```\n" + "".join(f"row {i}\n" for i in range(40))
    frames: list[str] = []
    console = make_console(terminal=True, height=10)

    def chunks():
        yield code
        frames.append(console.file.getvalue())

    stream_markdown(chunks(), console, clock=itertools.count().__next__)
    live = terminal_lines(frames[0], 10)
    # height - 1 = 9 lines: the code block's last 8 rows and its bottom padding line.
    assert [line.strip() for line in live] == [f"row {i}" for i in range(32, 40)]
    assert terminal_lines(console.file.getvalue(), 10) == whole_render(code)


class BackendFailed(Exception):
    pass


def interrupted(text: str, error: BaseException, size: int = 3):
    yield from chunked(text, size)
    raise error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), BackendFailed("connection dropped")])
@pytest.mark.parametrize("stop", [40, 300, 571, len(ANSWER) - 5])
def test_interrupted_stream_leaves_everything_received_on_screen(error, stop):
    partial = ANSWER[:stop]
    console = make_console(terminal=True)
    with pytest.raises(type(error)) as raised:
        stream_markdown(interrupted(partial, error), console, clock=itertools.count().__next__)
    assert raised.value is error
    assert terminal_lines(console.file.getvalue(), 20) == whole_render(partial)


def test_interrupt_with_refresh_thread_still_prints_the_open_block():
    partial = "Intro.\n\n```python\nx = 1\ny = 2"
    console = make_console(terminal=True)
    with pytest.raises(KeyboardInterrupt):
        stream_markdown(interrupted(partial, KeyboardInterrupt()), console)
    assert terminal_lines(console.file.getvalue(), 20) == whole_render(partial)


class CtrlCDuringWrite(io.StringIO):
    """A terminal whose user presses Ctrl-C while the first finished block is being written."""

    def __init__(self) -> None:
        super().__init__()
        self.pressed = False

    def write(self, text: str) -> int:
        if not self.pressed and "terminal" in text:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler between bytecodes
        return super().write(text)


def test_ctrl_c_while_a_block_is_printed_shows_it_once():
    text = "First paragraph, long enough to wrap onto a second line of the terminal.\n\nSecond.\n\nThird"
    console = make_console(terminal=True)
    console.file = CtrlCDuringWrite()
    with pytest.raises(KeyboardInterrupt):
        # A clock that stands still: the live view is drawn once, at "First p", so the only
        # write with "terminal" in it is the finished block's.
        stream_markdown(chunked(text, 7), console, clock=lambda: 0.0)
    assert console.file.pressed
    screen = terminal_lines(console.file.getvalue(), 20)
    assert sum("First paragraph" in line for line in screen) == 1
    assert screen[: len(whole_render("First"))] == whole_render(text)[: len(whole_render("First"))]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_display_math_keeps_its_content_and_inline_math_its_backslashes():
    source = "Pythagoras:\n\n\\[ a^2 + b^2 = c^2 \\]\n\nwith \\( c_1 \\) and \\(x*y*z\\)."
    lines = whole_render(source)
    text = "\n".join(lines)
    assert "a^2 + b^2 = c^2" in text
    assert "[ a^2" not in text  # not eaten into a bracket
    assert "with \\( c_1 \\) and \\(x*y*z\\)." in text


def test_multi_line_display_math_becomes_one_block():
    lines = whole_render("\\[\n\\frac{a}{b}\n  + c_1\n\\]\nafter")
    shown = [line.strip() for line in lines if line.strip()]
    assert shown == ["\\frac{a}{b}", "+ c_1", "after"]


def test_math_inside_code_is_left_alone():
    lines = whole_render("```\n\\[ x \\]\n```\n\nand `\\(y\\)`")
    assert "\\[ x \\]" in "\n".join(lines)
    assert "and \\(y\\)" in "\n".join(lines)


@pytest.mark.parametrize(
    "text, finished",
    [
        ("para\n", ""),
        ("para\n\nnext\n", "para\n\n"),
        ("# Title\nbody\n", "# Title\n"),
        ("- a\n\n  ```\n  code\n\n  more\n  ```\n- b\n", ""),  # code inside a list item
        ("- a\n\n- b\n\n  continued\n", ""),  # loose list with a continuation
        ("| a | b |\n|---|---|\n| 1 | 2 |\n", ""),  # a table stays open
        ("| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n", "| a | b |\n|---|---|\n| 1 | 2 |\n\n"),
        ("```\nunclosed\n\nstill code\n", ""),
        ("text\n\\[\nx\n", "text\n"),  # display math interrupts a paragraph
        ("\\[\nx\n\\]\nafter\n", "\\[\nx\n\\]\n"),
    ],
)
def test_block_split_never_cuts_inside_a_block(text, finished):
    assert text[: block_split(text).offset] == finished


@pytest.mark.parametrize(
    "text, fence",
    [
        ("```python\nx = 1\n", "```"),
        ("intro\n\n~~~~\nx\n```\n", "~~~~"),
        ("```\nx\n```\n", None),
        ("```\nx\n```\nafter\n", None),
        ("- ```\n  x\n", None),  # inside a list: the list decides
        ("\\[\nx\n", None),  # display math ends at a blank line too
    ],
)
def test_block_split_reports_a_top_level_fence_still_open(text, fence):
    assert block_split(text).open_fence == fence


def test_not_a_terminal_streams_plain_text():
    console = make_console(terminal=False)
    text = stream_markdown(iter(["# Title\n", "**bold** \\[x\\]"]), console)
    assert text == "# Title\n**bold** \\[x\\]"
    assert console.file.getvalue() == "# Title\n**bold** \\[x\\]\n"


def test_stream_plain_passes_chunks_through_and_ends_the_line():
    out = io.StringIO()
    assert stream_plain(iter(["Hé", "llo *", "wo", "rld*"]), out) == "Héllo *world*"
    assert out.getvalue() == "Héllo *world*\n"
    assert "\x1b" not in out.getvalue()


@pytest.mark.parametrize("chunks, written", [(["a\n"], "a\n"), ([], ""), (["", ""], "")])
def test_stream_plain_adds_no_newline_when_not_needed(chunks, written):
    out = io.StringIO()
    stream_plain(iter(chunks), out)
    assert out.getvalue() == written


def test_stream_plain_flushes_each_chunk():
    class Recorder(io.StringIO):
        flushed: list[str] = []

        def flush(self):
            self.flushed.append(self.getvalue())

    out = Recorder()
    stream_plain(iter(["one ", "two"]), out)
    assert out.flushed[:2] == ["one ", "one two"]


def test_stream_plain_ends_the_line_and_reraises_on_error():
    out = io.StringIO()
    error = BackendFailed("boom")
    with pytest.raises(BackendFailed) as raised:
        stream_plain(interrupted("partial answer", error), out)
    assert raised.value is error
    assert out.getvalue() == "partial answer\n"
