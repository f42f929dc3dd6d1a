"""Terminal settings the live view needs."""

from __future__ import annotations

import os

import pytest

from tutor.cli.console import control_keys_not_echoed

termios = pytest.importorskip("termios")


def test_ctrl_c_is_not_echoed_while_the_view_is_live_and_the_setting_comes_back():
    leader, follower = os.openpty()
    try:
        assert termios.tcgetattr(follower)[3] & termios.ECHOCTL  # a pty echoes "^C" by default
        before = termios.tcgetattr(follower)
        with pytest.raises(KeyboardInterrupt):
            with control_keys_not_echoed(follower):
                inside = termios.tcgetattr(follower)
                raise KeyboardInterrupt
        assert not inside[3] & termios.ECHOCTL
        assert inside[3] & termios.ECHO  # typed text still shows
        assert termios.tcgetattr(follower) == before
    finally:
        os.close(leader), os.close(follower)


def test_not_a_terminal_changes_nothing(tmp_path):
    with open(tmp_path / "f", "w") as file, control_keys_not_echoed(file.fileno()):
        pass  # no error


MESSAGE = "OPENAI_API_KEY is not set: run  export OPENAI_API_KEY=sk-...  or add it to .env (or use --backend local)"


def test_errors_on_a_terminal_wrap_between_words_never_with_a_leading_space():
    import io

    from rich.console import Console

    from tutor.display import print_error

    console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    print_error(console, MESSAGE)
    lines = console.file.getvalue().splitlines()
    assert len(lines) >= 2
    assert all(not line.startswith(" ") and len(line) <= 60 for line in lines), lines


def test_off_a_terminal_notices_and_tables_are_never_wrapped():
    import io

    from rich.console import Console
    from rich.table import Table

    from tutor.cli.console import unwrapped_off_terminal
    from tutor.display import print_notice

    console = unwrapped_off_terminal(Console(file=io.StringIO(), width=40, color_system=None))
    print_notice(console, MESSAGE)
    table = Table()
    table.add_column("Model")
    table.add_row("local:smollm2-edbcc4206bff-and-more-and-more")
    console.print(table)
    lines = console.file.getvalue().splitlines()
    assert lines[0] == f"note: {MESSAGE}"
    assert any("local:smollm2-edbcc4206bff-and-more-and-more" in line for line in lines)
