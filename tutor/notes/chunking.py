"""Split a note into passages small enough to quote, each with a citation (`notes/x.md §2`).

Markdown is split at headings (never inside a fenced code block); section N is the N-th
non-empty section of the file, the text before the first heading included. A long section is
split again at paragraphs into parts `§N.1`, `§N.2`. Plain text is split at blank lines into
parts of about the same size, numbered `§1`, `§2` ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 220  # a passage longer than this is split at paragraph breaks

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    """One passage of a note.

    Args:
        source: the file as citations name it.
        section: "2", or "2.1" for the first part of a long section 2.
        heading: the heading trail ("Attention > Scaled dot-product"), "" when none.
        text: the passage itself, without its heading line.
    """

    source: str
    section: str
    heading: str
    text: str

    @property
    def citation(self) -> str:
        return f"{self.source} §{self.section}"


def _split_long(text: str, limit: int = MAX_WORDS) -> list[str]:
    """Paragraph groups of at most about `limit` words (a single long paragraph stays whole)."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in re.split(r"\n\s*\n", text):
        words = len(paragraph.split())
        if current and size + words > limit:
            parts.append("\n\n".join(current))
            current, size = [], 0
        if paragraph.strip():
            current.append(paragraph.strip())
            size += words
    if current:
        parts.append("\n\n".join(current))
    return parts


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """(heading trail, body) for each section, in order, empty bodies dropped."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    trail: list[tuple[int, str]] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            level = len(match.group(1))
            trail = [(lv, t) for lv, t in trail if lv < level] + [(level, match.group(2))]
            sections.append((" > ".join(t for _, t in trail), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(body).strip()) for heading, body in sections if "\n".join(body).strip()]


def chunk_note(text: str, source: str) -> list[Chunk]:
    """All passages of one note; Markdown by sections, anything else by paragraphs."""
    if source.lower().endswith((".md", ".markdown")):
        sections = markdown_sections(text)
    else:
        sections = [("", part) for part in _split_long(text)]
    chunks: list[Chunk] = []
    for number, (heading, body) in enumerate(sections, start=1):
        parts = _split_long(body)
        for index, part in enumerate(parts, start=1):
            section = str(number) if len(parts) == 1 else f"{number}.{index}"
            chunks.append(Chunk(source, section, heading, part))
    return chunks
