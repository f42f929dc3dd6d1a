"""Put the most relevant note passages into a lesson's first turn, and keep the list of those
sent (`Grounding.used`, which `/sources` shows through `tutor.display.sources_table`).

Both backends get exactly the same text. A prompt set's `grounded_system.md` puts the passages
into the system prompt (`$system`, `$topic`, `$passages` with labels, `$notes` without), and
its `grounded.md` may reword the explain request (`$request`, `$topic`). A grounded answer is
an explanation that uses the notes, never "a rewritten version of the notes": every variant
asks for an explanation. The shipped templates stand in for ones a custom prompts folder lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from tutor.errors import PromptError
from tutor.notes.index import NotesIndex, Passage
from tutor.prompts import PromptSet

PASSAGES = 4  # passages per request
MAX_PASSAGE_WORDS = 120  # longer passages are cut, so small models keep room to answer
MIN_RELATIVE_SCORE = 0.5  # drop passages scoring under half the best one: off-topic noise
# A passage counts as used when the answer shares this many word triples with it (triples of
# only common words aside): a model explaining from its own knowledge shares the topic's
# words, but rarely three phrases of one particular passage.
USED_TRIPLES = 3
_COMMON = frozenset(
    "a an the and or of to in on at by for with from as is are was were be been it its this that "
    "these those which who what how we you they he she i not no but if then so than into can".split()
)


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
        """A closing line citing the passages `answer` used but does not cite itself.

        Small models rarely cite, so the tutor does it for them, but only for passages the
        answer drew on (`used_by`): an answer that ignored the notes claims no sources. Empty
        when none is due.
        """
        words = _triples(answer)
        missing = []
        for passage in self.used:
            label = passage.citation
            if label not in answer and label not in missing and len(words & _triples(passage.chunk.text)) >= USED_TRIPLES:
                missing.append(label)
        if not missing:
            return ""
        return "\n\nSources from your notes: " + ", ".join(f"[{label}]" for label in missing)

    def system_message(self, system: str) -> str:
        """`system` with every passage used so far: rebuild the system message after feedback."""
        return GroundedContext(list(self.used), self.prompts, self.max_words, self.topic).wrap_system(system)

    def _context(self, passages: list[Passage]) -> GroundedContext:
        self.used.extend(passages)
        return GroundedContext(passages, self.prompts, self.max_words, self.topic)


def _triples(text: str) -> set[tuple[str, ...]]:
    """Consecutive word triples of `text`, lower-cased, leaving out those of only common words."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {t for t in zip(words, words[1:], words[2:]) if not all(w in _COMMON for w in t)}
