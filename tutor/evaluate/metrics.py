"""Per-answer measurements. Pure functions on text, so tests can check them exactly.

The reading grade is the Flesch-Kincaid grade level, computed here (no dependency) on the prose
only: code blocks, inline code, display math and Markdown markup are removed first.

Coverage is measured twice on every answer, with the loose patterns (bare terms, as before
issue 11) and the strict ones (each concept stated with its meaning; see
`tutor/evaluate/concepts.py`), so one run reports both on the same answers.

Grounding honesty, when the prompt's text is given as `source`: **cites** counts only
citations of passages the prompt held (`notes/x.md §2`), never the tutor's own closing
"Sources from your notes:" line; **rewrite** flags an answer that presents itself as a
rewrite of the notes ("Here's a rewritten version of the notes:", "Rewrite the notes
again ..."); **copied** is the share of the answer's 8-word runs found verbatim in the prompt.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from tutor.evaluate.topics import Topic

_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
_FENCED_BLOCK = re.compile(r"^[ \t]*(```|~~~).*?(^[ \t]*\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_DISPLAY_MATH = re.compile(r"\\\[.*?\\\]|\$\$.*?\$\$", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_EXAMPLE_WORDS = re.compile(
    r"\bfor (example|instance)\b|\be\.g\.|\bexample\b|\bsuppose\b|\blet'?s say\b|\bimagine\b",
    re.IGNORECASE,
)
_CALCULATION = re.compile(r"\d\s*[-+*/×÷=^]\s*\d")
_CITATION = re.compile(r"([^\s\[\](),;]+\.(?:md|markdown|txt))\s*§\s*(\d+(?:\.\d+)?)")
_SOURCES_LINE = re.compile(r"^.*\bSources from your notes:.*$", re.MULTILINE | re.IGNORECASE)
_REWRITE = re.compile(
    r"\b(re-?writ\w*|rephras\w*|reword\w*|paraphras\w*)\b[^.\n]{0,40}\b(notes|text|passages?)\b"
    r"|^\W*here('s| is) (a |the |your )?(re-?written|rephrased|reworded|paraphrased) (version|text)",
    re.IGNORECASE | re.MULTILINE,
)
_COPY_RUN = 8  # words; an 8-word run found verbatim in the prompt is copied, not explained


@dataclass(frozen=True)
class AnswerMetrics:
    """What we measure on one answer.

    Args:
        coverage: fraction of the topic's key concepts present, loose patterns, 0..1.
        found: names of the concepts present, loose patterns.
        words: whitespace-separated tokens that contain a letter or digit.
        has_code: a fenced code block opens (a truncated answer may lack the closing fence).
        has_example: code, a calculation, or an explicit example ("for example", "suppose").
        grade: Flesch-Kincaid grade level of the prose.
        cites: cites a notes passage the way grounded prompts ask (`notes/x.md §2`); with a
            source, only passages the source holds count.
        strict_coverage: like `coverage`, strict rules (each concept stated with its meaning).
        strict_found: names of the concepts present under the strict rules.
        rewrite: presents itself as a rewrite of the notes instead of an explanation.
        copied: share of the answer's 8-word runs found verbatim in the source; None without one.
    """

    coverage: float
    found: tuple[str, ...]
    words: int
    has_code: bool
    has_example: bool
    grade: float
    cites: bool = False
    strict_coverage: float = 0.0
    strict_found: tuple[str, ...] = ()
    rewrite: bool = False
    copied: float | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["found"] = list(self.found)
        data["strict_found"] = list(self.strict_found)
        return data


def word_count(text: str) -> int:
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def has_code_block(text: str) -> bool:
    return _FENCE.search(text) is not None


def has_worked_example(text: str) -> bool:
    return has_code_block(text) or bool(_EXAMPLE_WORDS.search(text)) or bool(_CALCULATION.search(text))


def concept_coverage(text: str, topic: Topic, *, strict: bool = False) -> tuple[float, tuple[str, ...]]:
    found = tuple(c.name for c in topic.concepts if c.found_in(text, strict=strict))
    return (len(found) / len(topic.concepts) if topic.concepts else 0.0), found


def cites_notes(text: str, source: str | None = None) -> bool:
    """A citation in the answer's own words (not the tutor's sources line) of a passage in `source`."""
    text = _SOURCES_LINE.sub(" ", text)
    for match in _CITATION.finditer(text):
        # The model may shorten "notes/x.md §2" to "x.md §2": match on the file's own name.
        name, section = match.group(1).split("/")[-1], match.group(2)
        if source is None or re.search(rf"{re.escape(name)}\s*§\s*{re.escape(section)}(?!\d)", source):
            return True
    return False


def reads_as_rewrite(text: str) -> bool:
    return _REWRITE.search(text) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def copied_share(text: str, source: str, run: int = _COPY_RUN) -> float:
    """Share of the answer's `run`-word windows that occur verbatim (case-folded) in `source`."""
    words = _words(text)
    if len(words) < run:
        return 0.0
    source_words = _words(source)
    known = {tuple(source_words[i:i + run]) for i in range(len(source_words) - run + 1)}
    windows = [tuple(words[i:i + run]) for i in range(len(words) - run + 1)]
    return round(sum(w in known for w in windows) / len(windows), 4)


def prose(text: str) -> str:
    """The answer without code, math and Markdown markup; each line ends a sentence."""
    text = _FENCED_BLOCK.sub(" ", text)
    text = _DISPLAY_MATH.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(#+|[-*+]|\d+[.)]|>)\s*", "", line).strip()
        line = re.sub(r"[*_|]", " ", line).strip()
        if line:
            # Headings and list items usually lack a full stop but still end a sentence.
            lines.append(line if line[-1] in ".!?:;" else line + ".")
    return "\n".join(lines)


def syllables(word: str) -> int:
    """Vowel groups, with the usual English corrections (silent final e, -es, -ed)."""
    word = word.lower().strip("'’")
    if len(word) <= 3:
        return 1
    word = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", lambda m: m.group(0)[0], word)
    word = re.sub(r"^y", "", word)
    return max(1, len(re.findall(r"[aeiouy]+", word)))


def sentence_count(text: str) -> int:
    return max(1, len(re.findall(r"[.!?:;]+(?=\s|$)", text)))


def reading_grade(text: str) -> float:
    """Flesch-Kincaid grade: 0.39 words/sentence + 11.8 syllables/word - 15.59 (0.0 when no words)."""
    clean = prose(text)
    words = _WORD.findall(clean)
    if not words:
        return 0.0
    total_syllables = sum(syllables(w) for w in words)
    grade = 0.39 * len(words) / sentence_count(clean) + 11.8 * total_syllables / len(words) - 15.59
    return round(grade, 2)


def measure(text: str, topic: Topic, *, source: str | None = None) -> AnswerMetrics:
    """Every metric of one answer; `source` is the prompt's text (notes passages included)."""
    coverage, found = concept_coverage(text, topic)
    strict_coverage, strict_found = concept_coverage(text, topic, strict=True)
    return AnswerMetrics(
        coverage=round(coverage, 4),
        found=found,
        words=word_count(text),
        has_code=has_code_block(text),
        has_example=has_worked_example(text),
        grade=reading_grade(text),
        cites=cites_notes(text, source),
        strict_coverage=round(strict_coverage, 4),
        strict_found=strict_found,
        rewrite=reads_as_rewrite(text),
        copied=None if source is None else copied_share(text, source),
    )
