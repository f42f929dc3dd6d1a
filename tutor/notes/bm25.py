"""Okapi BM25 over passages: a compact inverted index in plain Python, fast to save and load.

Postings are stored CSR-style in three `array`s (term row -> documents, term counts), so a
warm index of thousands of passages loads in milliseconds instead of unpickling millions of
small objects. Each passage's term counts are kept separately by the index, so adding or
removing one file rebuilds the postings without tokenizing the other files again.
"""

from __future__ import annotations

import math
import re
import base64
from array import array
from collections import Counter
from typing import Sequence

K1 = 1.5  # term-frequency saturation
B = 0.75  # length normalisation

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have how i in into is it its of on or that the their "
    "then there these this to was were what when which who why will with you your me my we our "
    "explain about can do does".split()
)


def stem(word: str) -> str:
    """A light suffix stripper: plurals and -ing/-ed, so "layers" finds "layer"."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def tokenize(text: str) -> list[str]:
    return [stem(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]


def term_counts(text: str) -> dict[str, int]:
    return dict(Counter(tokenize(text)))


_ARRAYS = ("lengths", "starts", "doc_ids", "counts")


class BM25:
    """Scores documents given as term-count dicts, numbered in the order they were given."""

    def __init__(self, documents: Sequence[dict[str, int]]) -> None:
        rows: dict[str, list[tuple[int, int]]] = {}
        self.lengths = array("i")
        for doc_id, counts in enumerate(documents):
            self.lengths.append(sum(counts.values()))
            for term, count in counts.items():
                rows.setdefault(term, []).append((doc_id, count))
        self.vocabulary: dict[str, int] = {}
        self.starts = array("i", [0])
        self.doc_ids = array("i")
        self.counts = array("i")
        for row, (term, postings) in enumerate(rows.items()):
            self.vocabulary[term] = row
            for doc_id, count in postings:
                self.doc_ids.append(doc_id)
                self.counts.append(count)
            self.starts.append(len(self.doc_ids))
        self.size = len(self.lengths)
        self.average = (sum(self.lengths) / self.size) if self.size else 0.0

    def to_json(self) -> dict:
        """Plain data for the cache: the int arrays as base64 of their bytes (fast to load)."""
        packed = {name: base64.b64encode(getattr(self, name).tobytes()).decode() for name in _ARRAYS}
        return {"vocabulary": self.vocabulary, **packed}

    @classmethod
    def from_json(cls, data: object) -> "BM25 | None":
        """The index `to_json` saved, or None when the data is not one."""
        try:
            index = cls.__new__(cls)
            index.vocabulary = dict(data["vocabulary"])
            for name in _ARRAYS:
                values = array("i")
                values.frombytes(base64.b64decode(data[name], validate=True))
                setattr(index, name, values)
        except (KeyError, TypeError, ValueError):
            return None
        if len(index.starts) != len(index.vocabulary) + 1 or len(index.doc_ids) != len(index.counts):
            return None
        index.size = len(index.lengths)
        index.average = (sum(index.lengths) / index.size) if index.size else 0.0
        return index

    def _postings(self, term: str) -> tuple[Sequence[int], Sequence[int]]:
        row = self.vocabulary.get(term)
        if row is None:
            return (), ()
        start, end = self.starts[row], self.starts[row + 1]
        return self.doc_ids[start:end], self.counts[start:end]

    def _idf(self, matching: int) -> float:
        """How much a term found in `matching` documents weighs: the rarer, the more (never below 0)."""
        return math.log((self.size - matching + 0.5) / (matching + 0.5) + 1.0)

    def scores(self, query_terms: Sequence[str]) -> dict[int, float]:
        """Score of every document that shares at least one term with the query."""
        result: dict[int, float] = {}
        for term in set(query_terms):
            doc_ids, counts = self._postings(term)
            if not doc_ids:
                continue
            idf = self._idf(len(doc_ids))
            for doc_id, tf in zip(doc_ids, counts):
                norm = K1 * (1 - B + B * self.lengths[doc_id] / self.average)
                result[doc_id] = result.get(doc_id, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
        return result

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        scores = self.scores(tokenize(query))
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
