"""Socratic mode: the tutor leads with questions and climbs a hint ladder instead of explaining.

Each learner reply is wrapped in `socratic_reply.md`, which names the next rung of the ladder;
`/reveal` asks for the full explanation (`socratic_reveal.md`) and starts the ladder again.
No I/O here: the lesson sends the requests these functions write.
"""

from __future__ import annotations

from tutor.conversation import LEVEL_HINTS
from tutor.prompts import PromptSet
from tutor.quiz.questions import quiz_prompt

# The hint ladder: what the tutor may give after the learner's first, second, third... reply.
HINT_LADDER = (
    "a gentle nudge (a question that points the way)",
    "a pointed hint that names the idea I am missing",
    "one worked step that shows how to get there",
)


def hint_rung(replies: int) -> str:
    """The rung for the learner's `replies`-th answer since the last reveal (0-based)."""
    return HINT_LADDER[min(replies, len(HINT_LADDER) - 1)]


def start_request(prompts: PromptSet, topic: str, level: str) -> str:
    return quiz_prompt(prompts, "socratic_start", topic=topic, level=LEVEL_HINTS.get(level, level))


def reply_request(prompts: PromptSet, reply: str, replies: int) -> str:
    return quiz_prompt(prompts, "socratic_reply", reply=reply.strip(), rung=hint_rung(replies))


def reveal_request(prompts: PromptSet, topic: str) -> str:
    return quiz_prompt(prompts, "socratic_reveal", topic=topic)
