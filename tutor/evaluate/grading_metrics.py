"""Scores for the answer grader (`bench/quiz_eval.py`): accuracy, macro-F1, confusion matrix.

Pure functions on label lists, and the fixed split of the SemEval data into a part we tune
prompts on and a part we report on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Sequence

PREDICTED = ("correct", "partly", "incorrect")
TUNE_SHARE = 20  # percent of SemEval questions (all their answers) set aside for tuning


def semeval_part(question: str) -> str:
    """"tune" or "heldout", fixed by a hash of the question: a question's answers never straddle."""
    bucket = int(hashlib.sha256(question.strip().encode()).hexdigest(), 16) % 100
    return "tune" if bucket < TUNE_SHARE else "heldout"


def sample_order(item_id: str) -> str:
    """A stable, well-mixed order, so `--limit N` takes the same N items every run."""
    return hashlib.sha256(item_id.encode()).hexdigest()


def two_way(label: str) -> str:
    """Gold or predicted label as correct / not: partly correct is not correct."""
    return "correct" if label == "correct" else "incorrect"


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else 0.0


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    """The mean over `labels` of each label's F1 (0 for a label never predicted nor present)."""
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def confusion(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, int]]:
    """{gold label: {predicted label: count}}, every predicted label present."""
    counts = Counter(zip(gold, predicted))
    return {g: {p: counts[(g, p)] for p in PREDICTED} for g in sorted(set(gold))}


# SemEval's 3-way labels, and ours mapped onto them: partly correct is SemEval's "incorrect"
# (incomplete), and our "incorrect" (misses or contradicts the key idea) its "contradictory".
SEMEVAL_3WAY = {"correct": "correct", "partly": "incorrect", "incorrect": "contradictory"}


def three_way(gold: Sequence[str], predicted: Sequence[str]) -> float | None:
    """3-way macro-F1 where the gold labels allow it (ours, or SemEval's), else None."""
    present = set(gold)
    if present <= set(PREDICTED) and len(present) == 3:
        return macro_f1(gold, predicted, PREDICTED)
    if present <= {"correct", "contradictory", "incorrect"} and "contradictory" in present:
        return macro_f1(gold, [SEMEVAL_3WAY[p] for p in predicted], ("correct", "contradictory", "incorrect"))
    return None
