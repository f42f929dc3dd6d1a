"""Put the most relevant note passages into a lesson's first turn, and list them for `/sources`.

Both backends get exactly the same text. A prompt set's `grounded_system.md` puts the passages
into the system prompt (`$system`, `$topic`, `$passages` with labels, `$notes` without), and
its `grounded.md` may reword the explain request (`$request`, `$topic`): the shipped prompts
keep it; the embedded model's variant casts the notes as a re-writing task and asks only
"Rewrite the notes.", which measured best (BENCHMARKS.md, "Teaching quality").
The shipped templates stand in for ones a custom prompts folder lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from rich.table import Table
from rich.text import Text

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
    topic: str = ""

    def wrap(self, request: str) -> str:
        """`request` as `grounded.md` words it for a grounded turn; unchanged when there are no passages."""
        if not self.passages:
            return request
        return render_grounded(self.prompts or PromptSet(), request, self.passages, max_words=self.max_words,
                               topic=self.topic)

    def wrap_system(self, system: str) -> str:
        """The system message with the passages (`grounded_system.md`); unchanged when there are none.

        Small models follow passages in the system message much better than passages inside
        the question (see BENCHMARKS.md, "Teaching quality").
        """
        if not self.passages:
            return system
        return render_grounded(self.prompts or PromptSet(), system, self.passages, max_words=self.max_words,
                               topic=self.topic, template="grounded_system", slot="system")


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
    topic: str = "", template: str = "grounded", slot: str = "request",
) -> str:
    """`template`.md filled with `text` (as `$request` or `$system`), `$topic` and the passages:
    `$passages` under their citation labels, `$notes` as plain paragraphs (a 135M model used
    labelled passages less, see BENCHMARKS.md, "Teaching quality")."""
    variables = {slot: text, "topic": topic, "passages": passage_block(passages, max_words=max_words),
                 "notes": "\n\n".join(clip(p.chunk.text, max_words) for p in passages),
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
        self.topic = ""  # the lesson's, once `for_topic` has run

    def for_topic(self, topic: str) -> GroundedContext:
        """Passages for the first explanation of `topic`."""
        self.topic = topic
        return self._context(relevant(self.index.search(topic, self.k)))

    def for_feedback(self, topic: str, feedback: str) -> GroundedContext:
        """Passages for a revision, leaving out those the conversation already holds."""
        sent = {p.citation for p in self.used}
        found = self.index.search(f"{topic} {feedback}", self.k + len(sent))
        return self._context(relevant([p for p in found if p.citation not in sent])[: self.k])

    def sources_line(self, answer: str) -> str:
        """A closing line citing the passages sent so far that `answer` does not cite itself.

        The embedded 135M model never cites (BENCHMARKS.md, "Teaching quality"), so the tutor
        does it; a model that cites every passage inline gets no line. Empty when none is due.
        """
        labels = dict.fromkeys(p.citation for p in self.used)
        missing = [label for label in labels if label not in answer]
        if not missing:
            return ""
        return "\n\nSources from your notes: " + ", ".join(f"[{label}]" for label in missing)

    def system_message(self, system: str) -> str:
        """`system` with every passage used so far: rebuild the system message after feedback."""
        return GroundedContext(list(self.used), self.prompts, self.max_words, self.topic).wrap_system(system)

    def _context(self, passages: list[Passage]) -> GroundedContext:
        self.used.extend(passages)
        return GroundedContext(passages, self.prompts, self.max_words, self.topic)


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
        cells = (chunk.citation, chunk.heading or "-", clip(chunk.text, 12))
        table.add_row(str(number), *(Text(cell) for cell in cells))  # notes text is never markup
    return table
