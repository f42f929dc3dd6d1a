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
`STOP_STRING`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

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


class StopScanner:
    """Cuts a stream of text at `STOP_STRING`, holding back text that may start it.

    `feed(text)` returns what is safe to show now; `stopped` turns True once the stop string
    has appeared; `flush()` returns what was held back when the stream ends without it.
    """

    def __init__(self, stop: str = STOP_STRING) -> None:
        self.stop = stop
        self.stopped = False
        self._held = ""

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        buffer = self._held + text
        cut = buffer.find(self.stop)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return buffer[:cut].rstrip()
        # Hold back the longest tail that is a prefix of the stop string.
        keep = 0
        for size in range(min(len(self.stop) - 1, len(buffer)), 0, -1):
            if self.stop.startswith(buffer[-size:]):
                keep = size
                break
        # Also hold trailing whitespace: if the stop string follows, it is not part of the answer.
        ready = buffer[: len(buffer) - keep]
        shown = ready.rstrip()
        self._held = buffer[len(shown) :]
        return shown

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held
