"""What `tutor train` shows while it runs: step, train/val loss, tokens/s and ETA.

A live Rich bar on a terminal; on a pipe or in a log file, one plain line per evaluation (a
bar there is printed once, at the end, wrapped at 80 columns). Its own module so that
`tutor --help` does not import rich.progress.
"""

from __future__ import annotations

from typing import Any, Callable

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


class TrainingReport:
    """Turns the training loop's events into output on `console` (rank 0 only).

    Args:
        console: stderr.
        steps: the run's total steps.
        header: the first line, from the start event's info and step.
    """

    def __init__(self, console: Console, steps: int, header: Callable[[dict[str, Any], int], str]) -> None:
        self.console, self.header = console, header
        self.live = console.is_terminal
        self.progress = training_progress(console) if self.live else None
        if self.progress is not None:
            self.task = self.progress.add_task("train", total=steps, train=None, val=None, val_step=None, tps=None)

    def __call__(self, event) -> None:
        if event.kind == "start":
            self.console.print(self.header(event.info, event.step), soft_wrap=True)
            if self.progress is not None:
                self.progress.update(self.task, completed=event.step)
                self.progress.start()
        elif event.kind == "step":
            if self.progress is not None:
                self.progress.update(self.task, completed=event.step, train=event.train_loss, tps=event.tokens_per_s)
        elif event.kind == "eval":
            if self.progress is not None:
                self.progress.update(self.task, completed=event.step, val=event.val_loss, val_step=event.step)
            else:
                self.console.print(f"step {event.step}/{event.steps} · train {event.train_loss:.4f} · "
                                   f"val {event.val_loss:.4f}", soft_wrap=True)  # fmt: skip

    def stop(self) -> None:
        if self.progress is not None and self.progress.live.is_started:  # stop() of an unstarted bar prints a blank line
            self.progress.stop()
