"""Byte counts as people read them, in decimal units (1 GB = 10^9 bytes, as disks are sold)."""

from __future__ import annotations


def human_size(n: float) -> str:
    """`987 B`, `12.3 MB`, `1.1 GB`."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
