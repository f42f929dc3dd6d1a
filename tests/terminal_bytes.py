"""What a terminal would obey in a stream of bytes: the check behind the hostile-text tests."""

from __future__ import annotations

import re

# The escape sequences our own side writes: SGR styles (Rich), and the live view's hide/show
# cursor, erase line and cursor up (Rich), bracketed paste and meta mode (readline). A
# model's own SGR would pass this check; `test_safe_text` shows that none gets through.
OWN_SEQUENCES = re.compile(rb"\x1b\[[0-9;]*m|\x1b\[\?(?:25|2004|1034)[hl]|\x1b\[[0-9]*[AK]")
C0_ALLOWED = {"\n", "\r", "\t"}  # CR: Rich's own line handling and the terminal's echo


def terminal_problems(raw: bytes) -> list[str]:
    """What in `raw` could drive a terminal, beyond our own styling; empty when safe."""
    problems = []
    foreign = OWN_SEQUENCES.sub(b"", raw)
    for match in re.finditer(rb"\x1b[^\x1b]{0,12}", foreign):
        problems.append(f"escape sequence {match.group()!r}")
    text = raw.decode("utf-8")  # also: nothing undecodable reached the terminal
    for ch in sorted(set(text)):
        if (ord(ch) < 0x20 and ch not in C0_ALLOWED and ch != "\x1b") or 0x7F <= ord(ch) <= 0x9F:
            problems.append(f"control character {ch!r}")
    return problems
