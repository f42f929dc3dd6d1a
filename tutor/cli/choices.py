"""The closed sets of option values (`--backend`, `--device`, `--level`) as Enums for Typer,
built from their one owner, `tutor.config`, so a new name there is a new choice here."""

from __future__ import annotations

from enum import Enum

from tutor.config import BACKENDS, DEVICES, LEVELS


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    return Enum(name, {value: value for value in values}, type=str)


BackendChoice = _choices("BackendChoice", BACKENDS)
DeviceChoice = _choices("DeviceChoice", DEVICES)
LevelChoice = _choices("LevelChoice", LEVELS)
