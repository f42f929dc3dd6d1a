"""Every Rich progress display of the CLI, each implementing a plain progress protocol of the
library: model loading (`RichLoadProgress`), notes indexing (`RichIndexProgress`), downloads
(`RichPullProgress`) and training (`TrainingReport`: step, train/val loss, tokens/s and ETA).

Commands import this module inside their functions, so `tutor --help` does not import
rich.progress.
"""

from __future__ import annotations

from typing import Any, Callable, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from tutor.cli.console import stderr_console


class _ClosingProgress:
    """A Rich bar started on the first report; `close()` (or the end of a `with` block) takes it
    off the screen, so a failure cannot leave it running."""

    _progress: Progress | None = None

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RichLoadProgress(_ClosingProgress):
    """A `tutor.models.progress.LoadProgress` that shows a spinner and a bar while a model converts.

    Shows nothing until the first report, so loading a cached model stays silent. Use it as
    a context manager (or call `close()`) so the display ends even when loading fails.

    Args:
        console: where to draw; pass the stderr console so answers on stdout stay clean.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or stderr_console()
        self._progress: Progress | None = None
        self._task = None

    def __call__(self, stage: str, step: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("Preparing the local model (once): {task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(stage, total=total)
        self._progress.update(self._task, description=stage, completed=step, total=total)
        if step >= total:
            self.close()



SHOW_BAR_FROM = 200  # files; smaller folders index too fast for a bar to help


class RichIndexProgress(_ClosingProgress):
    """Implements `IndexProgress` with a Rich bar on `console` for large notes folders."""

    def __init__(self, console: Console, *, threshold: int = SHOW_BAR_FROM) -> None:
        self.console = console
        self.threshold = threshold
        self._progress: Progress | None = None
        self._task = None

    def start(self, total: int) -> None:
        if total < self.threshold:
            return
        self._progress = Progress(
            TextColumn("indexing notes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=self.console, transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("notes", total=total)

    def advance(self, display: str) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def end(self) -> None:
        self.close()


_STAGES = {"download": "Downloading", "verify": "Checking sha256"}


class RichPullProgress(_ClosingProgress):
    """A `PullProgress` drawing a download bar, then a hashing bar, on the given (stderr) console.

    Shows nothing until the first report, so a model that is already pulled prints no bar.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.reported = False
        self.downloaded = False
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,  # gone when done: the summary line after it says what happened
            )
            self._progress.start()
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(_STAGES.get(stage, stage), total=total)
        self.reported = True
        self.downloaded = self.downloaded or stage == "download"
        self._progress.update(self._tasks[stage], completed=done, total=total)



# --- tutor train: a live bar on a terminal; on a pipe or in a log file, one plain line per
# evaluation (a bar there is printed once, at the end, wrapped at 80 columns).


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
