"""What an eval topic is: its key concepts, each a set of patterns an explanation must match."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Concept:
    """One idea an explanation should name.

    Args:
        name: shown in reports.
        patterns: regular expressions; any match means the concept is present.
    """

    name: str
    patterns: tuple[str, ...]

    def found_in(self, text: str) -> bool:
        return any(re.search(p, text, re.IGNORECASE) for p in self.patterns)


@dataclass(frozen=True)
class Topic:
    """A topic as the learner would type it, with its field and key concepts."""

    name: str
    field: str
    concepts: tuple[Concept, ...] = field(default_factory=tuple)
