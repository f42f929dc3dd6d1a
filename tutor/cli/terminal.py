"""How a lesson meets the terminal: the answer renderer (live Markdown, plain text, or both
when stdout is a file) and the line reader for feedback. Shared by lessons, quizzes and review.
"""

from __future__ import annotations

from rich.console import Console

from tutor.cli.console import control_keys_not_echoed
from tutor.errors import TutorError
from tutor.display import print_error


def renderer(out: Console, err: Console, *, plain: bool, mirror: bool):
    """Live Markdown on a terminal, else plain text; with `mirror`, plain text to `out` (a file)
    while the terminal on `err` shows the answer."""
    from tutor.render import stream_markdown, stream_plain

    if mirror:
        def render_both(chunks):
            copied = copied_to(chunks, out.file)
            if plain:
                return stream_plain(copied, err.file)
            with control_keys_not_echoed():
                return stream_markdown(copied, err)

        return render_both
    if plain or not out.is_terminal:
        return lambda chunks: stream_plain(chunks, out.file)

    def render(chunks):
        with control_keys_not_echoed():
            return stream_markdown(chunks, out)

    return render


def copied_to(chunks, file):
    """The chunks, each also written to `file` as it passes (terminal-safe, as a pipe may end
    in one); the copy ends with a newline."""
    from tutor.safe_text import safe_text

    ended = True
    try:
        for chunk in chunks:
            file.write(safe_text(chunk))
            file.flush()
            ended = chunk.endswith("\n") if chunk else ended
            yield chunk
    finally:
        if not ended:
            file.write("\n")
        file.flush()


def line_reader(err: Console):
    """What reads the learner's feedback: a prompt on `err`, then one line (with line editing
    where readline exists)."""
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass

    def read_line(prompt: str) -> str:
        """One line of feedback; a line the terminal's encoding cannot decode is refused here
        and asked for again, so it never reaches the model or the history."""
        from tutor.conversation import require_decodable, undecodable_error

        while True:
            err.print(f"[bold cyan]{prompt}[/]", end="")
            try:
                return require_decodable(input(), "that line")
            except UnicodeDecodeError:  # stdin decodes strictly outside UTF-8 mode
                print_error(err, undecodable_error("that line"))
            except TutorError as exc:
                print_error(err, exc)

    return read_line
