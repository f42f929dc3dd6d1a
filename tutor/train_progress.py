"""The Rich progress bar for `tutor train`: step, train/val loss, tokens/s and ETA.

Its own module so that `tutor --help` does not import rich.progress.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class StatsColumn(ProgressColumn):
    """step n/N · train · val · tok/s, from the task's fields."""

    def render(self, task) -> Text:
        f = task.fields
        parts = [f"step {int(task.completed)}/{int(task.total or 0)}"]
        if f.get("train") is not None:
            parts.append(f"train {f['train']:.4f}")
        if f.get("val") is not None:  # with the step it was estimated at: it can be old
            parts.append(f"val {f['val']:.4f}@{f['val_step']}" if f.get("val_step") is not None else f"val {f['val']:.4f}")
        if f.get("tps"):
            parts.append(f"{f['tps']:,.0f} tok/s")
        return Text(" · ".join(parts))


def training_progress(console: Console) -> Progress:
    return Progress(
        # A 12-cell bar and no percentage (the step count says it) keep the line under 100
        # columns even at step 19990/20000, so it never wraps in a 110-column terminal.
        TextColumn("[bold]training[/]"), BarColumn(bar_width=12), StatsColumn(), TimeRemainingColumn(),
        console=console, transient=False, refresh_per_second=4,
    )  # fmt: skip
