"""`tutor pull`: the Typer command, registered by `tutor.cli.app`; its bar is `tutor.cli.progress`.

huggingface_hub and rich.progress are imported inside the command, so `tutor --help` stays instant.
The work happens in `tutor.models.pull`, which reports progress through a `PullProgress`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.filesize import decimal
from rich.markup import escape

from tutor.errors import PullError
from tutor.models.suggested import SUGGESTED
from tutor.cli.console import stderr_console, stdout_console
from tutor.display import print_notice


def pull(
    repo: Annotated[
        str,
        typer.Argument(
            help=f"A Hugging Face repo id (owner/name), REPO:FILE, or a suggested model: {', '.join(SUGGESTED)}.",
            show_default=False,
        ),
    ],
    file: Annotated[
        Optional[str],
        typer.Option("--file", help="The .gguf file to take from the repo (default: its Q4_K_M file).", show_default=False),
    ] = None,
) -> None:
    """Download a GGUF model from the Hugging Face Hub into tutor's cache (resumable, sha256-checked)."""
    try:
        from huggingface_hub.utils import logging as hub_logging
    except ImportError:
        raise PullError("tutor pull needs huggingface_hub: pip install 'tutor[pull]'") from None

    from tutor.cli.progress import RichPullProgress
    from tutor.models.pull import pull as pull_model

    # Its retry warnings span several lines with URLs; our bar and one-line errors say enough.
    hub_logging.set_verbosity_error()
    err = stderr_console()
    progress = RichPullProgress(err)
    try:
        with progress:
            model = pull_model(repo, file=file, progress=progress)
    except KeyboardInterrupt:
        if progress.downloaded:
            print_notice(err, "download paused: run the same command again to continue it")
        raise
    verb = "Pulled" if progress.reported else "Already pulled"
    size = decimal(model.size)
    err.print(f"{verb} {escape(model.repo)} {escape(model.file)} ({size}, sha256 verified)", soft_wrap=True, highlight=False)
    name = repo if repo.lower() in SUGGESTED else model.repo
    err.print(f"Use it: tutor explain TOPIC --model {escape(name)}", soft_wrap=True, highlight=False)
    stdout_console(soft_wrap=True).print(escape(str(model.path)), highlight=False)
