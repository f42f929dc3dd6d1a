from __future__ import annotations

import pytest

from tutor.errors import PromptError
from tutor.prompts import PROMPT_NAMES, PromptSet, shipped_prompts_dir


def write_prompts(folder, **texts):
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"system": "You teach.", "explain": "Explain $topic at $level.", "revise": "Fix: $feedback"}
    for name, text in {**defaults, **texts}.items():
        if text is not None:
            (folder / f"{name}.md").write_text(text)
    return folder


def test_shipped_prompts_have_the_documented_variables():
    prompts = PromptSet()
    assert shipped_prompts_dir().is_dir()
    assert "Quantum tunnelling" in prompts.render("explain", topic="Quantum tunnelling", level="beginner")
    revise = prompts.render("revise", feedback="more math", hints=prompts.hints("more math"))
    assert "more math" in revise and "LaTeX" in revise  # the math hint of feedback_hints.md
    assert "professor" in prompts.render("system")


def test_a_custom_folder_overrides_the_shipped_prompts(tmp_path):
    prompts = PromptSet(write_prompts(tmp_path / "p"))
    assert prompts.render("explain", topic="X", level="expert") == "Explain X at expert."


def test_a_missing_file_names_the_file(tmp_path):
    prompts = PromptSet(write_prompts(tmp_path / "p", revise=None))
    with pytest.raises(PromptError, match=r"revise\.md is missing"):
        prompts.render("revise", feedback="x")


def test_a_missing_variable_is_an_error_not_a_blank(tmp_path):
    prompts = PromptSet(write_prompts(tmp_path / "p", explain="Explain $topic for $audience"))
    with pytest.raises(PromptError, match=r"uses \$audience, which is not provided"):
        prompts.render("explain", topic="X", level="beginner")


def test_a_literal_dollar_is_written_twice(tmp_path):
    prompts = PromptSet(write_prompts(tmp_path / "p", system="Costs $$5."))
    assert prompts.render("system") == "Costs $5."


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(PromptError, match="does not exist"):
        PromptSet(tmp_path / "nope")


def test_fingerprint_changes_with_the_text(tmp_path):
    a = PromptSet(write_prompts(tmp_path / "a")).fingerprint()
    b = PromptSet(write_prompts(tmp_path / "b", system="You teach well.")).fingerprint()
    assert a != b and len(a) == 12
    assert set(PROMPT_NAMES) == {"system", "explain", "revise"}


def test_the_small_model_gets_its_measured_variant_unless_prompts_are_given(tmp_path):
    from tutor.prompts import select_prompts_dir

    assert select_prompts_dir(None, answering_backend="local", local_model="smollm2") == shipped_prompts_dir() / "small"
    assert select_prompts_dir(None, answering_backend="local", local_model="/models/mine") is None
    assert select_prompts_dir(None, answering_backend="openai", local_model="smollm2") is None
    assert select_prompts_dir(tmp_path, answering_backend="local", local_model="smollm2") == tmp_path
    small = PromptSet(shipped_prompts_dir() / "small")
    assert "Gravity" in small.render("explain", topic="Gravity", level="beginner")
    assert "shorter" in small.render("revise", feedback="shorter", hints=small.hints("shorter"))


def test_feedback_hints_add_only_the_instructions_the_feedback_asks_for(tmp_path):
    for name in PROMPT_NAMES:
        (tmp_path / f"{name}.md").write_text("R: $feedback\n$hints" if name == "revise" else name)
    prompts = PromptSet(tmp_path)
    assert prompts.hints("much shorter") == ""  # no hints file: nothing added
    before = prompts.fingerprint()
    (tmp_path / "feedback_hints.md").write_text(
        "# comment: not a hint\nshorter, tl;dr: Three sentences.\ncode, python: A code block.\n"
    )
    prompts = PromptSet(tmp_path)
    assert prompts.fingerprint() != before
    assert prompts.hints("Much SHORTER please") == "Three sentences."
    assert prompts.hints("tl;dr") == "Three sentences."
    assert prompts.hints("python code, and shorter") == "Three sentences.\nA code block."
    assert prompts.hints("encode it") == ""  # whole words only
    assert prompts.render("revise", feedback="shorter", hints=prompts.hints("shorter")) == "R: shorter\nThree sentences."


def test_the_small_prompts_revise_request_carries_one_hint():
    from tutor.conversation import Conversation

    prompts = PromptSet(shipped_prompts_dir() / "small")
    conversation = Conversation.start(prompts, "Recursion", "beginner")
    conversation.record_answer("Recursion is when a function calls itself.")
    conversation.add_feedback(prompts, "much shorter")
    request = conversation.messages[-1]["content"]
    assert request.startswith("Please rewrite your explanation: much shorter.")
    assert "three sentences" in request and "python" not in request.lower()
