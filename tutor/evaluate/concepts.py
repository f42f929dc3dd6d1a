"""What an eval topic is: its key concepts, each a set of patterns an explanation must match.

Every concept has two pattern sets, so a run can be scored both ways on the same answers:

- **loose** (the patterns used until issue 11): any match anywhere counts, so a bare word earns
  credit ("steps" counted as iteration, "sides" as the legs of a triangle) and a fluent but
  wrong answer scores.
- **strict**: the concept counts only when it is stated with its meaning. A rule is either a
  regular expression over the whole answer (for a formula such as `F = ma`, which carries its
  meaning) or a tuple of expressions that must all match inside one sentence: the term and
  what it does ("the learning rate sets the step size", "queries are compared with keys").

Sentences are cut at `.`, `!` or `?` before a capital, a digit or markup, and where a line
starts a list item, heading, table row or code line (hard-wrapped prose lines are joined); a
heading, a short label line ("**Learning rate**", "Step 2:") or a sentence that ends a
paragraph with a colon ("We define it with a limit:") joins the sentence after it,
so an answer laid out as Markdown is read the way a learner reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Union

# A strict rule: one regex over the whole text, or regexes that must share one sentence.
Rule = Union[str, tuple[str, ...]]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*_\"'(\[`#])")
_LABEL_LINE = re.compile(r"^\s*(#{1,6}\s.*|\*\*[^*]+\*\*:?|[^.!?]{1,60}:)\s*$")
_BLOCK_START = re.compile(r"^([-*+]\s|\d+[.)]\s|\||>|#)")
_FENCE = re.compile(r"^(```|~~~)")


def _logical_lines(text: str) -> list[str]:
    """Lines with hard-wrapped paragraph lines joined; list items, headings, table rows and
    code lines stay lines of their own."""
    lines: list[str] = []
    joinable = False  # whether the next plain line continues the previous one
    in_fence = False
    for raw in text.splitlines():
        line = raw.strip()
        if _FENCE.match(line):
            in_fence = not in_fence
            lines.append(line)
            joinable = False
        elif not line:
            joinable = False
        elif in_fence:
            lines.append(line)
        elif joinable and not _BLOCK_START.match(line) and not _LABEL_LINE.match(line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
            joinable = not line.startswith(("#", "|")) and not _LABEL_LINE.match(line)
    return lines


@lru_cache(maxsize=64)
def sentences(text: str) -> tuple[str, ...]:
    """The text as sentences; a heading or label line is joined to the sentence after it."""
    units: list[str] = []
    label = ""
    for line in _logical_lines(text):
        if _LABEL_LINE.match(line):
            label = f"{label} {line}".strip()
            continue
        parts = _SENTENCE_END.split(line)
        if label:
            parts[0] = f"{label} {parts[0]}"
            label = ""
        if parts[-1].endswith(":"):
            label = parts.pop()  # "We define it with a limit:" introduces the next line
        units.extend(parts)
    if label:
        units.append(label)
    return tuple(units)


def rule_matches(rule: Rule, text: str) -> bool:
    """Whether `rule` holds in `text` (see the module docstring)."""
    if isinstance(rule, str):
        return re.search(rule, text, re.IGNORECASE) is not None
    return any(all(re.search(p, s, re.IGNORECASE) for p in rule) for s in sentences(text))


@dataclass(frozen=True)
class Concept:
    """One idea an explanation should name.

    Args:
        name: shown in reports.
        patterns: the loose patterns, regular expressions; any match means the concept is present.
        strict: rules that state the concept with its meaning (see the module docstring). A
            concept without strict rules is scored by its loose patterns in both modes; every
            concept of the shipped eval sets has them (a test checks).
    """

    name: str
    patterns: tuple[str, ...]
    strict: tuple[Rule, ...] = ()

    @property
    def loose(self) -> tuple[str, ...]:
        return self.patterns

    def found_in(self, text: str, *, strict: bool = False) -> bool:
        if strict and self.strict:
            return any(rule_matches(rule, text) for rule in self.strict)
        return any(re.search(p, text, re.IGNORECASE) for p in self.patterns)


@dataclass(frozen=True)
class Topic:
    """A topic as the learner would type it, with its field and key concepts."""

    name: str
    field: str
    concepts: tuple[Concept, ...] = field(default_factory=tuple)


def concept(name: str, loose: str, *strict: Rule) -> Concept:
    """A concept from one loose pattern and any number of strict rules (the data modules' shorthand)."""
    return Concept(name, (loose,), tuple(strict))
