"""The grading benchmark's metrics and SemEval split."""

from __future__ import annotations

import json

import pytest

from tutor.evaluate.grading_metrics import accuracy, confusion, macro_f1, semeval_part, three_way


def test_macro_f1_and_accuracy_on_a_small_case():
    gold = ["correct", "correct", "incorrect", "incorrect"]
    predicted = ["correct", "incorrect", "incorrect", "incorrect"]
    assert accuracy(gold, predicted) == 0.75
    # correct: P=1, R=0.5 -> 2/3; incorrect: P=2/3, R=1 -> 0.8
    assert macro_f1(gold, predicted, ("correct", "incorrect")) == pytest.approx((2 / 3 + 0.8) / 2)


def test_three_way_uses_our_labels_or_maps_onto_semevals():
    ours = ["correct", "partly", "incorrect"]
    assert three_way(ours, ours) == 1.0
    semeval = ["correct", "incorrect", "contradictory"]
    assert three_way(semeval, ["correct", "partly", "incorrect"]) == 1.0
    assert three_way(["correct", "incorrect"], ["correct", "incorrect"]) is None


def test_confusion_has_every_predicted_column():
    assert confusion(["partly"], ["correct"]) == {"partly": {"correct": 1, "partly": 0, "incorrect": 0}}


def test_the_semeval_split_keeps_a_questions_answers_together_and_sets_about_a_fifth_aside():
    assert semeval_part("Why?") == semeval_part(" Why? ")
    parts = [semeval_part(f"question {i}") for i in range(2000)]
    assert 0.15 < parts.count("tune") / len(parts) < 0.25


def test_our_own_set_has_six_subjects_and_every_label():
    from pathlib import Path

    rows = [json.loads(line) for line in (Path(__file__).parent.parent / "bench/quiz_data/own.jsonl").open()]
    assert len(rows) >= 60
    assert len({r["subject"] for r in rows}) == 6
    assert {r["label"] for r in rows} == {"correct", "partly", "incorrect"}
    assert all(r["question"] and r["reference_answer"] and r["student_answer"] for r in rows)
