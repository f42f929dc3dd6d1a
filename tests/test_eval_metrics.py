"""The eval metrics on fixed texts: coverage, length, code/example detection, reading grade."""

from __future__ import annotations

import pytest

from tutor.evaluate.metrics import (
    has_code_block,
    has_worked_example,
    measure,
    prose,
    reading_grade,
    syllables,
    word_count,
)
from tutor.evaluate.topics import TOPICS, Concept, Topic, by_name
from tutor.errors import UsageError

TOPIC = Topic("Photosynthesis", "biology", (
    Concept("chlorophyll", (r"chlorophyll",)),
    Concept("glucose / sugar", (r"\bglucose\b", r"\bsugars?\b")),
    Concept("oxygen", (r"\boxygen\b",)),
    Concept("Calvin cycle", (r"calvin cycle",)),
))


def test_coverage_counts_concepts_found_through_any_synonym():
    m = measure("Plants use chlorophyll to make SUGAR from light.", TOPIC)
    assert m.coverage == 0.5
    assert m.found == ("chlorophyll", "glucose / sugar")


def test_word_count_ignores_markup_only_tokens():
    assert word_count("# Title\n\n- one two -- three\n```\n```") == 4


@pytest.mark.parametrize("word, expected", [
    ("cat", 1), ("table", 2), ("makes", 1), ("released", 2), ("photosynthesis", 5), ("energy", 3),
])
def test_syllables(word, expected):
    assert syllables(word) == expected


def test_reading_grade_is_flesch_kincaid_on_a_known_text():
    # 6 words, 2 sentences, 11 syllables: 0.39 * 3 + 11.8 * 11 / 6 - 15.59 = 7.2133
    assert reading_grade("Photosynthesis makes sugar. Plants need light.") == pytest.approx(7.21, abs=0.005)


def test_reading_grade_ignores_code_math_and_markup():
    text = "# Plants\n\nPlants need light.\n\n```python\nx = photosynthesis_rate(1)\n```\n\\[ E = mc^2 \\]"
    assert prose(text) == "Plants.\nPlants need light."
    assert reading_grade(text) == reading_grade("Plants. Plants need light.")


def test_simpler_words_give_a_lower_grade():
    hard = "Photosynthesis transforms electromagnetic radiation into biochemical energy."
    easy = "Plants use light to make food. They do it in their leaves."
    assert reading_grade(easy) < reading_grade(hard)


def test_code_block_and_examples():
    assert has_code_block("Text\n```python\nprint(1)\n```")
    assert has_code_block("Cut off answer\n```python\nprint(1)")  # no closing fence yet
    assert not has_code_block("Use `print` to show values.")
    assert has_worked_example("For example, a cart of 2 kg.")
    assert has_worked_example("So 3 + 4 = 7.")
    assert not has_worked_example("Forces change motion.")


def test_eval_set_has_twelve_topics_across_six_fields_with_valid_patterns():
    assert len(TOPICS) >= 12
    assert {t.field for t in TOPICS} == {"ML", "physics", "math", "biology", "history", "programming"}
    for topic in TOPICS:
        assert len(topic.concepts) >= 6
        for concept in topic.concepts:
            concept.found_in("")  # every pattern compiles


def test_topics_are_chosen_by_name_or_field():
    assert [t.name for t in by_name(["photo"])] == ["The photoelectric effect", "Photosynthesis"]
    assert len(by_name(["history"])) == 2
    with pytest.raises(UsageError, match="no eval topic"):
        by_name(["astrology"])


def test_citations_of_notes_passages_are_detected():
    assert measure("As [notes/attention.md §2] says, heads attend.", TOPIC).cites
    assert not measure("Section 2 of my notes.", TOPIC).cites
