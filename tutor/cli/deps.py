"""What commands take from the outside world, and the one place that reads it from the context.

Tests pass fakes with `CliRunner().invoke(app, args, obj=Dependencies(...))`; every command
gets its consoles and the rest through `dependencies(ctx)`, with the real thing as default.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from tutor.cli.console import stderr_console, stdout_console


@dataclass
class Dependencies:
    """What commands take from the outside world, so tests can pass fakes via `obj=`.

    Args:
        build_backend: `(choice, settings, notify=, progress=) -> Backend`; the real one when None.
        stdin_is_tty: whether to run the feedback loop; defaults to `sys.stdin.isatty()`.
        out: console for answers; `stdout_console()` when None.
        clock: monotonic seconds, for the model load time in the footer.
    """

    build_backend: Optional[Callable[..., Any]] = None
    stdin_is_tty: Optional[Callable[[], bool]] = None
    out: Optional[Console] = None
    clock: Optional[Callable[[], float]] = None


def dependencies(ctx: typer.Context) -> Dependencies:
    """The fakes a test passed as `obj=`, else the defaults."""
    return ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()


def consoles(ctx: typer.Context) -> tuple[Console, Console]:
    """(out, err): the answers console (a test's, or stdout) and the stderr console."""
    return dependencies(ctx).out or stdout_console(), stderr_console()


def stdin_is_tty(ctx: typer.Context) -> bool:
    """Whether someone is at the keyboard: a test's answer, else `sys.stdin.isatty()`."""
    return (dependencies(ctx).stdin_is_tty or sys.stdin.isatty)()


def backend_builder(ctx: typer.Context) -> Callable[..., Any]:
    """A test's `build_backend`, else the real one (imported only now: it reaches the backends)."""
    build = dependencies(ctx).build_backend
    if build is None:
        from tutor.backends.select import build_backend as build
    return build
