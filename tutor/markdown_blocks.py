r"""Markdown parsing shared by the renderers: math that stays readable, and block boundaries.

Rich's `Markdown` parses with ``MarkdownIt().enable("strikethrough").enable("table")``.
We use the same parser plus two rules for LaTeX math, because CommonMark treats ``\[`` and
``\(`` as escaped brackets and would print ``[ x^2 ]``:

- display math (``\[ ... \]`` or ``$$ ... $$`` starting a line, possibly over several lines)
  becomes a fenced code block with the ``latex`` lexer;
- inline math (``\( ... \)``, or ``\[ ... \]`` inside a paragraph) is kept verbatim as text,
  backslashes and underscores included.

`block_split` finds where the finished top-level blocks of a text end, using the token line
maps of the same parser, so streamed output splits exactly where a whole render would.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from rich.markdown import Markdown, UnknownElement

MATH_LEXER = "latex"  # Pygments' TeX lexer: highlights commands, readable without colour
_DISPLAY_DELIMITERS = (("\\[", "\\]"), ("$$", "$$"))
_INLINE_DELIMITERS = {"\\(": "\\)", "\\[": "\\]"}


def _math_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Display math: a line starting ``\\[`` (or ``$$``) up to the line holding the closer.

    An unclosed block ends at a blank line, a line indented less than its container, or the
    end of the text, like an unclosed code fence.
    """
    if state.is_code_block(start):
        return False
    line = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    for opener, closer in _DISPLAY_DELIMITERS:
        if line.startswith(opener):
            break
    else:
        return False
    first = line[len(opener) :].strip()
    one_line = closer in first
    if one_line and first.find(closer) != len(first) - len(closer):
        return False  # `\[ a \] is ...`: inline math inside a paragraph
    if silent:
        return True
    if one_line:
        body, next_line = [first[: -len(closer)]], start + 1
    else:
        body, next_line = _scan_body(state, start, end, first, closer)
    state.line = next_line
    token = state.push("fence", "code", 0)
    token.info = MATH_LEXER
    token.markup = opener
    token.content = "\n".join(_trim_blank_ends(body)) + "\n"
    token.map = [start, next_line]
    return True


def _scan_body(
    state: StateBlock, start: int, end: int, first: str, closer: str
) -> tuple[list[str], int]:
    """Collect the lines of a multi-line display formula; return them and the next line."""
    body = [first]
    indent = state.sCount[start]
    line = start + 1
    while line < end:
        if state.isEmpty(line) or state.sCount[line] < state.blkIndent:
            return body, line  # unclosed: display math never holds a blank line
        text = state.getLines(line, line + 1, indent, False)
        head, found, rest = text.partition(closer)
        if found:
            body.append(text if rest.strip() else head.rstrip())
            return body, line + 1
        body.append(text)
        line += 1
    return body, line


def _trim_blank_ends(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _math_inline(state: StateInline, silent: bool) -> bool:
    """Keep ``\\( ... \\)`` verbatim as text; keep stray delimiters' backslashes too."""
    pos = state.pos
    delimiter = state.src[pos : pos + 2]
    closer = _INLINE_DELIMITERS.get(delimiter)
    if closer is None and delimiter not in ("\\)", "\\]"):
        return False
    end = -1 if closer is None else state.src.find(closer, pos + 2, state.posMax)
    stop = pos + 2 if end == -1 else end + 2
    if not silent:
        token = state.push("text", "", 0)
        token.content = state.src[pos:stop].replace("\n", " ")
    state.pos = stop
    return True


def _rich_parser_with_math() -> MarkdownIt:
    """Rich's parser configuration plus the math rules."""
    parser = MarkdownIt().enable("strikethrough").enable("table")
    parser.block.ruler.after(
        "fence",
        "math_block",
        _math_block,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    parser.inline.ruler.before("escape", "math_inline", _math_inline)
    return parser


@cache
def markdown_parser() -> MarkdownIt:
    """The parser `TutorMarkdown` renders with (built once, on first use)."""
    return _rich_parser_with_math()


@cache
def _block_parser() -> MarkdownIt:
    """The same parser without inline parsing: block boundaries don't depend on it."""
    return _rich_parser_with_math().disable(["inline", "text_join"])


class TutorMarkdown(Markdown):
    """Rich `Markdown` parsed with `markdown_parser`, so math keeps its backslashes.

    Links print their address after the text instead of becoming terminal hyperlinks
    (OSC 8): the learner sees where a link goes, and the model's URL never travels inside
    an escape sequence. Control characters are left to the console (`tutor.safe_text`).

    Args:
        markup: the Markdown source.
        **options: passed to `rich.markdown.Markdown` (code_theme, justify, ...).
    """

    def __init__(self, markup: str, **options) -> None:
        options.setdefault("hyperlinks", False)
        super().__init__("", **options)
        self.markup = markup
        self.parsed = markdown_parser().parse(markup)


def normalize_newlines(text: str) -> str:
    """Line breaks as markdown-it counts them, so our line numbers match its token maps."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class BlockSplit(NamedTuple):
    """Where the finished blocks of a text end; see `block_split`."""

    offset: int  # character offset where the last (open) block starts; 0: nothing finished
    blank_after: bool  # Rich puts a blank line after the finished part
    open_fence: str | None  # the marker of a top-level code fence left open by the text


def block_split(text: str) -> BlockSplit:
    """Find the end of the finished blocks in `text` (complete lines, newlines normalized).

    Every top-level block before the last one is final: later lines can only extend or
    change the last block.
    """
    tokens = _block_parser().parse(text)
    starts = [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
    open_fence = _open_fence(text, starts[-1]) if starts else None
    if len(starts) < 2:
        return BlockSplit(0, True, open_fence)
    cut_line = starts[-1].map[0]
    offset = 0
    for _ in range(cut_line):
        offset = text.index("\n", offset) + 1
    return BlockSplit(offset, blank_line_after(starts[-2].type), open_fence)


def _open_fence(text: str, last: Token) -> str | None:
    """The marker of `last` when it is a code fence still waiting for its closing line.

    Only a closing marker line can end a top-level fence, so until one arrives the text
    needs no new parse (`may_close_fence`).
    """
    if last.type != "fence" or last.markup[:1] not in ("`", "~") or last.map is None:
        return None
    lines = text.split("\n")
    start, end = last.map
    if end < len(lines) - 1:
        return None  # something follows the fence, so it is closed
    closing = lines[end - 1].strip() if end - 1 > start else ""
    if closing and set(closing) == {last.markup[0]} and len(closing) >= len(last.markup):
        return None
    return last.markup


def may_close_fence(new_lines: str, fence: str) -> bool:
    """Whether any of `new_lines` could be the closing line of an open `fence` (a superset)."""
    return any(line.lstrip().startswith(fence) for line in new_lines.split("\n"))


def blank_line_after(block_type: str) -> bool:
    """Whether Rich's Markdown puts a blank line after a top-level block of this token type.

    Rich keeps a `new_line` flag per element; only the horizontal rule clears it (it draws
    its own empty line).
    """
    element = TutorMarkdown.elements.get(block_type) or UnknownElement
    return element.new_line
