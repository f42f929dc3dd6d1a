"""Put the most relevant note passages into a request, and list them for `/sources`.

Both backends get exactly the same text: the passages are part of the user message. The
template `grounded.md` (the shipped one when a custom prompts folder has none) wraps the
ordinary request (`$request`, the rendered explain.md or revise.md) with `$passages`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from rich.table import Table

from tutor.errors import PromptError
from tutor.notes.index import NotesIndex, Passage
from tutor.prompts import PromptSet

PASSAGES = 4  # passages per request
MAX_PASSAGE_WORDS = 120  # longer passages are cut, so small models keep room to answer
MIN_RELATIVE_SCORE = 0.5  # drop passages scoring under half the best one: off-topic noise


def relevant(passages: Sequence[Passage], min_relative: float = MIN_RELATIVE_SCORE) -> list[Passage]:
    """The passages whose BM25 score is at least `min_relative` times the best score."""
    if not passages:
        return []
    best = max(p.score for p in passages)
    return [p for p in passages if p.score >= min_relative * best]


@dataclass
class GroundedContext:
    """The passages chosen for one request, and how to put them into it.

    Args:
        passages: the passages for the request, best first (empty: nothing matched).
        prompts: the prompt set whose `grounded.md` frames them.
        max_words: longest passage quoted in full.
    """

    passages: list[Passage] = field(default_factory=list)
    prompts: PromptSet | None = None
    max_words: int = MAX_PASSAGE_WORDS

    def wrap(self, request: str) -> str:
        """`request` with the passages around it (`grounded.md`); unchanged when there are none."""
        if not self.passages:
            return request
        return render_grounded(self.prompts or PromptSet(), request, self.passages, max_words=self.max_words)

    def wrap_system(self, system: str) -> str:
        """The system message with the passages after it (`grounded_system.md`); unchanged when none.

        Small models answer a plain question much better when the passages sit in the system
        message rather than in the question (see BENCHMARKS.md, "Teaching quality").
        """
        if not self.passages:
            return system
        return render_grounded(self.prompts or PromptSet(), system, self.passages, max_words=self.max_words,
                               template="grounded_system", slot="system")


def clip(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text.strip()
    return " ".join(words[:max_words]) + " …"


def passage_block(passages: Sequence[Passage], *, max_words: int = MAX_PASSAGE_WORDS) -> str:
    """Each passage under its citation label: `[notes/attention.md §2] Heading` then the text."""
    parts = []
    for passage in passages:
        chunk = passage.chunk
        label = f"[{chunk.citation}]" + (f" {chunk.heading}" if chunk.heading else "")
        parts.append(f"{label}\n{clip(chunk.text, max_words)}")
    return "\n\n".join(parts)


def render_grounded(
    prompts: PromptSet, text: str, passages: Sequence[Passage], *, max_words: int = MAX_PASSAGE_WORDS,
    template: str = "grounded", slot: str = "request",
) -> str:
    """`template`.md filled with `text` (as `$request` or `$system`) and the passages."""
    variables = {slot: text, "passages": passage_block(passages, max_words=max_words),
                 "example_citation": passages[0].citation}
    try:
        return prompts.render(template, **variables)
    except PromptError:
        if (prompts.directory / f"{template}.md").is_file():
            raise  # the learner's own template is broken: say so
        return PromptSet().render(template, **variables)


class Grounding:
    """Retrieves passages for the explain request and for each piece of feedback.

    Args:
        index: a refreshed notes index.
        prompts: the prompt set whose `grounded.md` frames the passages.
        k: passages per request.
    """

    def __init__(self, index: NotesIndex, prompts: PromptSet, *, k: int = PASSAGES,
                 max_words: int = MAX_PASSAGE_WORDS) -> None:
        self.index = index
        self.prompts = prompts
        self.k = k
        self.max_words = max_words
        self.used: list[Passage] = []  # every passage sent so far, in order, for /sources

    def for_topic(self, topic: str) -> GroundedContext:
        """Passages for the first explanation of `topic`."""
        return self._context(relevant(self.index.search(topic, self.k)))

    def for_feedback(self, topic: str, feedback: str) -> GroundedContext:
        """Passages for a revision, leaving out those the conversation already holds."""
        sent = {p.citation for p in self.used}
        found = self.index.search(f"{topic} {feedback}", self.k + len(sent))
        return self._context(relevant([p for p in found if p.citation not in sent])[: self.k])

    def system_message(self, system: str) -> str:
        """`system` with every passage used so far: rebuild the system message after feedback."""
        return GroundedContext(list(self.used), self.prompts, self.max_words).wrap_system(system)

    def _context(self, passages: list[Passage]) -> GroundedContext:
        self.used.extend(passages)
        return GroundedContext(passages, self.prompts, self.max_words)


def format_sources(passages: Sequence[Passage]) -> Table | str:
    """What `/sources` shows: each passage used, with its citation, heading and opening words."""
    if not passages:
        return "No notes passages were used in this lesson."
    table = Table(title="Sources from your notes", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("citation", no_wrap=True)
    table.add_column("section")
    table.add_column("starts with", style="dim")
    for number, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        table.add_row(str(number), chunk.citation, chunk.heading or "-", clip(chunk.text, 12))
    return table
