"""The two eval sets by name: `tuning` (tune prompts here) and `heldout` (report here)."""

from __future__ import annotations

from tutor.errors import UsageError
from tutor.evaluate.concepts import Topic
from tutor.evaluate.heldout import HELDOUT
from tutor.evaluate.topics import TOPICS

EVAL_SETS: dict[str, tuple[Topic, ...]] = {"tuning": TOPICS, "heldout": HELDOUT}


def eval_set(name: str) -> tuple[Topic, ...]:
    try:
        return EVAL_SETS[name]
    except KeyError:
        raise UsageError(f"unknown eval set {name!r}: use one of {', '.join(EVAL_SETS)}") from None


def topic_named(name: str) -> Topic:
    """The topic called exactly `name` in either set (topic names are unique across sets)."""
    for topics in EVAL_SETS.values():
        for topic in topics:
            if topic.name == name:
                return topic
    raise UsageError(f"no eval topic is called {name!r} (tutor/evaluate/topics.py, heldout.py)")
