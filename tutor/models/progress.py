"""How slow model-loading steps (assembling, hashing, converting) report how far they are."""

from __future__ import annotations

from typing import Protocol


class LoadProgress(Protocol):
    """Told about slow loading steps. `step` of `total` steps are done; `stage` says what runs."""

    def __call__(self, stage: str, step: int, total: int) -> None: ...
