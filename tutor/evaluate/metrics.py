"""Per-answer measurements. Pure functions on text, so tests can check them exactly.

The reading grade is the Flesch-Kincaid grade level, computed here (no dependency) on the prose
only: code blocks, inline code, display math and Markdown markup are removed first.
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
_CITATION = re.compile(r"\S+\.(md|markdown|txt)\s*§\s*\d")


@dataclass(frozen=True)
class AnswerMetrics:
    """What we measure on one answer.

    Args:
        coverage: fraction of the topic's key concepts present, 0..1.
        found: names of the concepts present.
        words: whitespace-separated tokens that contain a letter or digit.
        has_code: a fenced code block opens (a truncated answer may lack the closing fence).
        has_example: code, a calculation, or an explicit example ("for example", "suppose").
        grade: Flesch-Kincaid grade level of the prose.
        cites: cites a notes passage the way grounded prompts ask (`notes/x.md §2`).
    """

    coverage: float
    found: tuple[str, ...]
    words: int
    has_code: bool
    has_example: bool
    grade: float
    cites: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        data["found"] = list(self.found)
        return data


def word_count(text: str) -> int:
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def has_code_block(text: str) -> bool:
    return _FENCE.search(text) is not None


def has_worked_example(text: str) -> bool:
    return has_code_block(text) or bool(_EXAMPLE_WORDS.search(text)) or bool(_CALCULATION.search(text))


def concept_coverage(text: str, topic: Topic) -> tuple[float, tuple[str, ...]]:
    found = tuple(c.name for c in topic.concepts if c.found_in(text))
    return (len(found) / len(topic.concepts) if topic.concepts else 0.0), found


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


def measure(text: str, topic: Topic) -> AnswerMetrics:
    coverage, found = concept_coverage(text, topic)
    return AnswerMetrics(
        coverage=round(coverage, 4),
        found=found,
        words=word_count(text),
        has_code=has_code_block(text),
        has_example=has_worked_example(text),
        grade=reading_grade(text),
        cites=_CITATION.search(text) is not None,
    )
