"""Where tutor keeps its files. `TUTOR_HOME` puts everything under one folder (tests use it)."""

from __future__ import annotations

import os
from pathlib import Path


def _home_override() -> Path | None:
    value = os.environ.get("TUTOR_HOME")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Converted models and other things that can be rebuilt."""
    home = _home_override()
    if home is not None:
        return home / "cache"
    from platformdirs import user_cache_path

    return user_cache_path("tutor", appauthor=False)


def data_dir() -> Path:
    """Lesson history and models the learner trained: things that cannot be rebuilt."""
    home = _home_override()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_path

    return user_data_path("tutor", appauthor=False)
