"""Structured replies: the schema check, JSON extraction, one retry, then a clear error."""

from __future__ import annotations

import json

import pytest

from fakes import FakeBackend
from openai_server import Reply
from tutor.backends.openai import OpenAIBackend
from tutor.options import GenerationOptions
from tutor.quiz.grading import GRADE_SCHEMA
from tutor.quiz.structured import MalformedReply, ask_json, extract_json, schema_errors

GOOD = {"key_ideas": [{"idea": "i", "learner_words": "w", "in_answer": "stated"}], "verdict": "partly", "feedback": "f", "misconception": "",
        "hint": "h"}
MESSAGES = [{"role": "user", "content": "grade this"}]


def test_a_valid_grade_has_no_errors():
    assert schema_errors(GOOD, GRADE_SCHEMA) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([], "reply should be an object"),
        ({**GOOD, "verdict": "maybe"}, "reply.verdict should be one of correct, partly, incorrect"),
        ({k: v for k, v in GOOD.items() if k != "hint"}, "reply lacks 'hint'"),
        ({**GOOD, "extra": 1}, "unexpected field 'extra'"),
        ({**GOOD, "feedback": 3}, "reply.feedback should be a string"),
        ({**GOOD, "key_ideas": [{"idea": "i", "learner_words": "", "in_answer": "yes"}]}, "reply.key_ideas[0].in_answer should be one of"),
    ],
)
def test_schema_errors_name_the_problem(value, problem):
    assert any(problem in found for found in schema_errors(value, GRADE_SCHEMA))


def test_json_is_found_inside_a_code_fence_or_a_sentence():
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Sure! Here it is: {"a": {"b": 2}} Hope that helps.') == {"a": {"b": 2}}
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_a_malformed_reply_is_retried_once_with_the_problem_named():
    backend = FakeBackend(["I think it is partly right."], [json.dumps(GOOD)])
    assert ask_json(backend, MESSAGES, GRADE_SCHEMA, GenerationOptions(), what="grading reply") == GOOD
    assert len(backend.calls) == 2
    assert backend.calls[1][-2] == {"role": "assistant", "content": "I think it is partly right."}
    assert "not valid JSON" in backend.calls[1][-1]["content"]
    assert backend.options[0].json_schema is GRADE_SCHEMA


def test_two_malformed_replies_raise_a_one_line_error():
    backend = FakeBackend(["{}"], ['{"verdict": "maybe"}'])
    with pytest.raises(MalformedReply) as caught:
        ask_json(backend, MESSAGES, GRADE_SCHEMA, GenerationOptions(), what="grading reply")
    message = str(caught.value)
    assert "fake:fake-1 grading reply was malformed twice" in message
    assert "\n" not in message and "{" not in message
    assert len(backend.calls) == 2


def test_the_openai_backend_asks_for_strict_json_schema_output(openai_server):
    openai_server.enqueue(Reply.json(GOOD))
    backend = OpenAIBackend(model="tutor-test", api_key="sk-test-0000000000", base_url=openai_server.base_url)
    text = "".join(backend.stream(MESSAGES, GenerationOptions(json_schema=GRADE_SCHEMA, temperature=0)))
    assert json.loads(text) == GOOD
    body = openai_server.chat_requests[0].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "grade", "schema": GRADE_SCHEMA, "strict": True},
    }
    backend.close()


def test_without_a_schema_no_response_format_is_sent(openai_server):
    backend = OpenAIBackend(model="tutor-test", api_key="sk-test-0000000000", base_url=openai_server.base_url)
    "".join(backend.stream(MESSAGES, GenerationOptions()))
    assert "response_format" not in openai_server.chat_requests[0].body
    backend.close()


def test_a_server_that_refuses_response_format_is_asked_again_in_plain_text(openai_server):
    refusal = {"error": {"message": "response_format: only {\"type\": \"text\"} is supported", "type": "invalid_request_error"}}
    openai_server.enqueue(Reply.error(400, refusal), Reply.json(GOOD), Reply.json(GOOD))
    backend = OpenAIBackend(model="tutor-test", api_key="sk-test-0000000000", base_url=openai_server.base_url)
    options = GenerationOptions(json_schema=GRADE_SCHEMA)
    assert json.loads("".join(backend.stream(MESSAGES, options))) == GOOD
    assert json.loads("".join(backend.stream(MESSAGES, options))) == GOOD
    sent = [r.body for r in openai_server.chat_requests]
    assert "response_format" in sent[0]
    assert "response_format" not in sent[1] and "response_format" not in sent[2]  # remembered
    backend.close()


def test_other_400s_are_still_errors(openai_server):
    openai_server.enqueue(Reply.error(400))
    backend = OpenAIBackend(model="tutor-test", api_key="sk-test-0000000000", base_url=openai_server.base_url)
    with pytest.raises(Exception, match="HTTP 400"):
        "".join(backend.stream(MESSAGES, GenerationOptions(json_schema=GRADE_SCHEMA)))
    assert len(openai_server.chat_requests) == 1
    backend.close()
