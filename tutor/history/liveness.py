"""Is the process that was streaming a turn still running? A turn left `streaming` by a process
that is gone (killed, crashed, power lost) was interrupted."""

from __future__ import annotations

import os
from pathlib import Path


def writer_token(pid: int | None = None) -> str:
    """`pid:start-time`, so a reused pid is not mistaken for the writer (start time is Linux-only)."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return f"{pid}:{stat[1] if stat else ''}"


def writer_alive(token: str | None) -> bool:
    """Whether the process that wrote `token` is still running."""
    if not token:
        return False
    pid_text, _, started = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill would terminate it; without a safe probe, assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state not in ("Z", "X") and (not started or started == start)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) from /proc, or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return (fields[0], fields[19]) if len(fields) > 19 else None
