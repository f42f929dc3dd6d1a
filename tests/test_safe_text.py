"""safe_text and SafeConsole: text from outside never drives the terminal, wherever it is printed."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from openai_server import HOSTILE, HOSTILE_SEQUENCES, hostile_answer
from terminal_bytes import terminal_problems
from tutor.render import render_markdown, stream_markdown, stream_plain
from tutor.safe_text import PLACEHOLDER, SafeConsole, safe_text
from tutor.display import print_error, print_notice

SGR = re.compile(r"\x1b\[[0-9;]*m")


def terminal(width: int = 60) -> tuple[SafeConsole, io.StringIO]:
    buffer = io.StringIO()
    return SafeConsole(file=buffer, force_terminal=True, color_system="truecolor", width=width), buffer


@pytest.mark.parametrize("name", sorted(HOSTILE_SEQUENCES))
def test_every_hostile_sequence_is_neutralized(name):
    shown = safe_text(HOSTILE_SEQUENCES[name])
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown)


def test_newline_tab_and_ordinary_text_stay_as_they_are():
    text = "Recursion:\n\tf(n) = n · f(n − 1)  ✓ 日本語 😀"
    assert safe_text(text) is text


def test_the_placeholder_marks_each_control_and_cr_is_dropped():
    assert safe_text("a\x1b[2Jb") == f"a{PLACEHOLDER}[2Jb"
    assert safe_text("a\u009b6nb") == f"a{PLACEHOLDER}6nb"
    assert safe_text("line one\r\nline two\r") == "line one\nline two"
    assert safe_text("safe\rFAKE") == "safeFAKE"  # a CR cannot send the cursor back over "safe"
    assert safe_text("\x00\x07\x7f\ud800") == PLACEHOLDER * 4  # NUL, BEL, DEL, a lone surrogate


def test_safe_console_neutralizes_text_but_keeps_its_own_styles():
    console, buffer = terminal()
    console.print(Text(f"bold {HOSTILE} end", style="bold red"))
    console.print(f"[green]markup[/] {HOSTILE.replace('[', '(')}")
    table = Table("cell")
    table.add_row(Text(HOSTILE))
    console.print(table)
    raw = buffer.getvalue()
    assert terminal_problems(raw.encode()) == []
    assert "\x1b[1;31m" in raw  # Rich's styling still goes out
    assert PLACEHOLDER in raw


def test_a_plain_rich_console_would_have_passed_the_sequences():
    """Why SafeConsole exists: Rich strips BEL but passes ESC and C1 (the issue's finding)."""
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, width=60).print(Text(HOSTILE))
    assert terminal_problems(buffer.getvalue().encode()) != []


def test_errors_and_notices_quote_server_text_safely():
    console, buffer = terminal()
    print_error(console, f"OpenAI answered HTTP 400: {HOSTILE}")
    print_notice(console, f"openai failed: {HOSTILE}; answering with local smollm2")
    assert terminal_problems(buffer.getvalue().encode()) == []


def test_streamed_markdown_is_safe_and_laid_out_with_the_placeholders():
    console, buffer = terminal(width=40)
    text = hostile_answer() + "\n" + "abc\x1b " * 60 + "\n"  # Rich counts ESC 0 cells wide, U+FFFD 1
    chunks = [text[i : i + 5] for i in range(0, len(text), 5)]
    assert stream_markdown(chunks, console, clock=lambda: 0.0) == text  # the text as received
    raw = buffer.getvalue()
    assert terminal_problems(raw.encode()) == []
    from rich.cells import cell_len

    lines = SGR.sub("", raw).replace("\x1b[2K", "").split("\n")
    assert max(cell_len(line.split("\r")[-1]) for line in lines) <= 40  # no line wraps in the terminal


def test_whole_markdown_links_show_their_address_not_a_hyperlink():
    console, buffer = terminal()
    render_markdown("See [the docs](https://docs.python.org/3/) and ![img](http://x.test/a.png).", console)
    raw = buffer.getvalue()
    assert "\x1b]8;" not in raw  # no OSC 8: the model's URL is not hidden behind the text
    assert "https://docs.python.org/3/" in SGR.sub("", raw)


def test_plain_streaming_writes_safe_text_and_returns_what_was_received():
    out = io.StringIO()
    chunks = ["Hello \x1b]0;", "pwned\x07 world\r\n"]
    assert stream_plain(chunks, out) == "Hello \x1b]0;pwned\x07 world\r\n"
    assert out.getvalue() == f"Hello {PLACEHOLDER}]0;pwned{PLACEHOLDER} world\n"
