"""Terminal settings the live view needs."""

from __future__ import annotations

import os

import pytest

from tutor.ui import control_keys_not_echoed

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
