"""Run the eval set through a backend: one explanation per topic, then one revision per feedback kind.

Requests go out in phases (all explanations, then all revisions of one kind), so a batched
generator can answer a whole phase at once; `sequential(backend)` answers one at a time through
the ordinary `Backend.stream`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from tutor.backends.base import Backend

from tutor.conversation import Conversation, NotesContext
from tutor.evaluate.metrics import AnswerMetrics, has_code_block, measure
from tutor.evaluate.topics import Topic
from tutor.options import GenerationOptions, Message
from tutor.prompts import PromptSet

# Answers a list of requests (each a full message list) in the same order.
AnswerMany = Callable[[Sequence[Sequence[Message]], GenerationOptions], list[str]]


@dataclass(frozen=True)
class FeedbackKind:
    """One kind of learner feedback and how to tell that the revision followed it."""

    key: str
    feedback: str
    rule: str
    passed: Callable[[AnswerMetrics, AnswerMetrics], bool]


FEEDBACK_KINDS: tuple[FeedbackKind, ...] = (
    FeedbackKind("code", "add a Python code example", "a fenced code block appears",
                 lambda before, after: after.has_code),
    FeedbackKind("simpler", "simpler, for a 12-year-old", "reading grade drops",
                 lambda before, after: after.grade < before.grade),
    FeedbackKind("shorter", "much shorter", "at most 60% of the previous words",
                 lambda before, after: after.words <= 0.6 * before.words),
)


@dataclass
class Revision:
    kind: str
    text: str
    metrics: AnswerMetrics
    passed: bool


@dataclass
class TopicResult:
    """One topic's explanation, its revisions, and `source`: the first turn's prompt text (the
    system message and the request, notes passages included), which grounding metrics read."""

    topic: Topic
    text: str
    metrics: AnswerMetrics
    revisions: dict[str, Revision] = field(default_factory=dict)
    source: str | None = None


def sequential(backend: Backend) -> AnswerMany:
    """An `AnswerMany` that streams each request through `backend` in turn."""

    def answer_many(requests: Sequence[Sequence[Message]], options: GenerationOptions) -> list[str]:
        return ["".join(backend.stream(list(messages), options)) for messages in requests]

    return answer_many


# A topic's notes passages for its first turn, as the CLI gets them (`Grounding.for_topic`).
Ground = Callable[[Topic], NotesContext]


def start_conversation(prompts: PromptSet, topic: Topic, level: str, ground: Ground | None) -> Conversation:
    """The first turn the CLI would send, grounded in notes when `ground` is given."""
    return Conversation.start(prompts, topic.name, level, notes=ground(topic) if ground else None)


def run_eval(
    answer_many: AnswerMany,
    prompts: PromptSet,
    topics: Sequence[Topic],
    options: GenerationOptions,
    *,
    kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS,
    level: str = "intermediate",
    ground: Ground | None = None,
    on_phase: Callable[[str, int], None] | None = None,
) -> list[TopicResult]:
    """Explain every topic, then revise each explanation once per feedback kind.

    Args:
        answer_many: answers a phase of requests (see `sequential`).
        ground: puts a topic's notes passages into its messages; None for no notes.
        on_phase: called with a phase name and its request count before it runs (progress).
    """
    conversations = [
        start_conversation(prompts, t, level, ground) for t in topics
    ]
    if on_phase:
        on_phase("explain", len(topics))
    texts = answer_many([c.messages for c in conversations], options)
    results = []
    for topic, conversation, text in zip(topics, conversations, texts):
        source = prompt_text(conversation.messages)
        conversation.record_answer(text)
        results.append(TopicResult(topic, text, measure(text, topic, source=source), source=source))
    for kind in kinds:
        requests = []
        for conversation in conversations:
            branch = Conversation(conversation.topic, conversation.level, list(conversation.messages))
            branch.add_feedback(prompts, kind.feedback)
            requests.append(branch.messages)
        if on_phase:
            on_phase(kind.key, len(requests))
        for result, text in zip(results, answer_many(requests, options)):
            after = measure(text, result.topic, source=result.source)
            result.revisions[kind.key] = Revision(kind.key, text, after, kind.passed(result.metrics, after))
    return results


def prompt_text(messages: Sequence[Message]) -> str:
    """The text of a request's messages, as grounding metrics compare an answer with it."""
    return "\n\n".join(m["content"] for m in messages)


def summarize(results: Sequence[TopicResult], kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS) -> dict:
    """Means over topics (explanations only), and the pass rate of each feedback kind.

    `coverage` keeps its old meaning (loose patterns); `strict_coverage` is the strict one.
    """
    n = len(results) or 1
    summary = {
        "topics": len(results),
        "coverage": round(sum(r.metrics.coverage for r in results) / n, 4),
        "words": round(sum(r.metrics.words for r in results) / n, 1),
        "code_rate": round(sum(r.metrics.has_code for r in results) / n, 4),
        "example_rate": round(sum(r.metrics.has_example for r in results) / n, 4),
        "grade": round(sum(r.metrics.grade for r in results) / n, 2),
        "cite_rate": round(sum(r.metrics.cites for r in results) / n, 4),
        "strict_coverage": round(sum(r.metrics.strict_coverage for r in results) / n, 4),
        "rewrite_rate": round(sum(r.metrics.rewrite for r in results) / n, 4),
        "copied": None,
        "compliance": {},
    }
    copied = [r.metrics.copied for r in results if r.metrics.copied is not None]
    if copied:
        summary["copied"] = round(sum(copied) / len(copied), 4)
    for kind in kinds:
        done = [r.revisions[kind.key] for r in results if kind.key in r.revisions]
        if done:
            summary["compliance"][kind.key] = round(sum(v.passed for v in done) / len(done), 4)
    if summary["compliance"]:
        rates = summary["compliance"].values()
        summary["compliance_mean"] = round(sum(rates) / len(rates), 4)
    return summary


def results_json(results: Sequence[TopicResult]) -> list[dict]:
    return [
        {
            "topic": r.topic.name,
            "field": r.topic.field,
            "text": r.text,
            "prompt": r.source,
            "metrics": r.metrics.to_dict(),
            "revisions": {
                k: {"text": v.text, "metrics": v.metrics.to_dict(), "passed": v.passed}
                for k, v in r.revisions.items()
            },
        }
        for r in results
    ]


__all__ = [
    "FEEDBACK_KINDS", "AnswerMany", "FeedbackKind", "Revision", "TopicResult",
    "has_code_block", "prompt_text", "results_json", "run_eval", "sequential", "summarize",
]
