from __future__ import annotations

import pytest

from tutor.conversation import Conversation, clean_topic
from tutor.errors import UsageError
from tutor.prompts import PromptSet


@pytest.mark.parametrize("topic", ["", "   ", "\n\t"])
def test_empty_topic_is_a_usage_error(topic):
    with pytest.raises(UsageError, match="the topic is empty"):
        clean_topic(topic)


def test_topic_whitespace_is_normalised():
    assert clean_topic("  Transformers \n in   ML ") == "Transformers in ML"


def test_start_builds_system_and_explain_messages_with_the_level():
    conversation = Conversation.start(PromptSet(), "Entropy", "expert")
    assert [m["role"] for m in conversation.messages] == ["system", "user"]
    assert "best professor" in conversation.messages[0]["content"]
    assert "Entropy" in conversation.messages[1]["content"]
    assert "expert" in conversation.messages[1]["content"]
    assert "$" not in conversation.messages[1]["content"]


def test_revisions_carry_the_whole_history():
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Entropy", "beginner")
    conversation.record_answer("first")
    conversation.add_feedback(prompts, "  with an example ")
    conversation.record_answer("second")
    assert [m["role"] for m in conversation.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert "with an example" in conversation.messages[3]["content"]
    assert conversation.latest_answer == "second"
    assert conversation.answer_count == 2


def test_retry_forgets_only_the_last_answer():
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Entropy", "beginner")
    conversation.record_answer("first")
    conversation.forget_last_answer()
    assert conversation.awaiting_answer
    assert conversation.latest_answer is None


def test_feedback_after_a_failed_first_answer_keeps_the_explain_request():
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Entropy", "beginner")
    conversation.add_feedback(prompts, "simpler")
    assert [m["role"] for m in conversation.messages] == ["system", "user", "user"]


def test_empty_feedback_is_refused():
    prompts = PromptSet()
    conversation = Conversation.start(prompts, "Entropy", "beginner")
    conversation.record_answer("a")
    with pytest.raises(UsageError):
        conversation.add_feedback(prompts, "   ")
