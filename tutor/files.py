"""Write a file so that readers see either the old content or the new, never half of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: Path, write: Callable[[Path], Any], *, private: bool = False) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it onto `path`.

    On any failure `path` is unchanged, the temporary file is gone, and the error propagates
    (callers turn OSError into their own TutorError, or ignore it for a cache).

    Args:
        private: create the file readable by its owner only (lesson exports).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
