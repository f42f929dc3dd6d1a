"""Stop strings: cut a streamed answer at the first one, even when it spans two chunks.

The one scanner for every stream: the server's `stop` parameter (`tutor serve`) and the
transcript format's header (`tutor.transcript.stop_scanner`).
"""

from __future__ import annotations

from typing import Sequence


class StopScanner:
    """Passes text through until a stop string appears, holding back what might start one.

    Text that could be the beginning of a stop string is kept until the next chunk decides,
    so the caller never sends a piece it would have to take back. Nothing after the first
    stop string (nor the stop string itself) ever comes out.

    Args:
        stops: the stop strings; empty ones are ignored.
        trim_before_stop: whitespace right before a stop string is not part of the answer
            either: trailing whitespace is held back too, until the next chunk shows what
            follows it.
    """

    def __init__(self, stops: Sequence[str], *, trim_before_stop: bool = False) -> None:
        self.stops = tuple(s for s in stops if s)
        self.trim_before_stop = trim_before_stop
        self.stopped = False
        self._held = ""

    def feed(self, text: str) -> str:
        """The part of `text` (plus what was held) that is safe to send now.

        After a stop string was found, `stopped` is True and the rest of the answer is dropped.
        """
        if self.stopped:
            return ""
        if not self.stops:
            return text
        buffer = self._held + text
        hits = [i for i in (buffer.find(stop) for stop in self.stops) if i >= 0]
        if hits:
            self.stopped, self._held = True, ""
            return self._trim(buffer[: min(hits)])
        keep = max((_overlap(buffer, stop) for stop in self.stops), default=0)
        ready = self._trim(buffer[: len(buffer) - keep])
        self._held = buffer[len(ready) :]
        return ready

    def flush(self) -> str:
        """What was held back, once the answer has ended without reaching a stop string."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _trim(self, text: str) -> str:
        return text.rstrip() if self.trim_before_stop else text


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of `text` that is a proper beginning of `stop`."""
    for size in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:size]):
            return size
    return 0
