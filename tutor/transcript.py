"""The plain-text transcript format, for tokenizers that have no chat template.

Models trained by `tutor train` learn this format, and the local backend uses it for any
tokenizer without a chat template. A conversation is written as one block per message,
blocks separated by a blank line, each block a header line and the message text::

    ### System:
    You are a patient tutor.

    ### User:
    Explain recursion.

    ### Assistant:
    Recursion is ...

The prompt for a new answer ends with the assistant header and its newline
(``"### Assistant:\\n"``). The answer ends where the model starts a new header: generation
stops at `STOP_STRING` (``"\\n### "``), which is never part of the answer, nor is the whitespace
before it. Message text is written as is; a line
starting with ``"### "`` inside a message would read as a new header, so the trainer should
avoid it in its data.

The backend encodes the prompt with the tokenizer's defaults (`tokenizer(text)`, so its own
special tokens, if any, are added); the trainer should encode training text the same way.

This API is stable: the trainer imports `format_transcript`, `HEADERS`, `SEPARATOR` and
`STOP_STRING`; the local backend cuts its answers with `stop_scanner()`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from tutor.stops import StopScanner

HEADERS: dict[str, str] = {
    "system": "### System:",
    "user": "### User:",
    "assistant": "### Assistant:",
}
SEPARATOR = "\n\n"  # between messages
STOP_STRING = "\n### "  # the model starting a new header: the answer is over


def format_message(role: str, content: str) -> str:
    """One block: the header, a newline, the text (no trailing separator)."""
    if role not in HEADERS:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(HEADERS)}")
    return f"{HEADERS[role]}\n{content}"


def format_transcript(
    messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True
) -> str:
    """Write `messages` in the transcript format.

    Args:
        messages: dicts with "role" ("system", "user" or "assistant") and "content".
        add_generation_prompt: end with the assistant header, ready for the model to answer.
            For training text, pass False: the last message then ends the transcript.
    """
    blocks = [format_message(m["role"], m["content"]) for m in messages]
    text = SEPARATOR.join(blocks)
    if add_generation_prompt:
        prefix = text + SEPARATOR if blocks else ""
        return prefix + HEADERS["assistant"] + "\n"
    return text


def stop_scanner() -> StopScanner:
    """A scanner that ends an answer where the model starts a new header, and drops the
    whitespace before it."""
    return StopScanner([STOP_STRING], trim_before_stop=True)
