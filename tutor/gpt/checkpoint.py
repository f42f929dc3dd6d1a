"""The output directory of a run: checkpoints, the completion convention and the final model.

Layout of `--out DIR`:

    .tutor-incomplete   present from the start of a run until the model is complete
    checkpoint.pt       resume state: weights, optimizer, RNG, step, config, data hash
    metrics.csv         step, train/val loss, lr, tokens/s, elapsed seconds
    config.json, model.safetensors, generation_config.json, tokenizer*.json
                        a transformers model, written at the end of the run
    training.json       summary of the run
    loss.svg            loss curve

Completion convention: `.tutor-incomplete` is created before anything else and removed
last, after the model files and training.json are in place. A directory that has it is an
unfinished run (interrupted, crashed, or still training): load nothing from it. Every file
is written to a temporary name and renamed, so no file is ever half-written either.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from tutor import files
from tutor.errors import TrainingError, first_line
from tutor.models.folder import INCOMPLETE

CHECKPOINT = "checkpoint.pt"
SUMMARY = "training.json"
# Files that show a directory was made by `tutor train` or holds a model (safe to --overwrite).
_OURS = (INCOMPLETE, CHECKPOINT, SUMMARY, "config.json", "metrics.csv")


def is_complete(directory: Path) -> bool:
    """True when `directory` holds a finished model (no incomplete marker, a config present)."""
    return (directory / "config.json").is_file() and not (directory / INCOMPLETE).exists()


def _fail(action: str, path: Path, exc: OSError) -> TrainingError:
    reason = exc.strerror or str(exc)
    return TrainingError(f"cannot {action} {path}: {reason}; free disk space or choose another --out")


def prepare_out(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Make `out` ready for a run and mark it incomplete.

    A new run needs a missing or empty dir, or `overwrite` of a dir that tutor made; a resumed
    run needs a checkpoint in it.
    """
    if resume:
        if not (out / CHECKPOINT).is_file():
            raise TrainingError(f"nothing to resume: {out / CHECKPOINT} does not exist; drop --resume to start a new run")
    elif out.exists():
        if not out.is_dir():
            raise TrainingError(f"--out {out} is a file; choose a directory")
        if any(out.iterdir()):
            if not overwrite:
                raise TrainingError(f"--out {out} already exists; pass --overwrite to replace it or --resume to continue it")
            if not any((out / name).exists() for name in _OURS):
                raise TrainingError(f"--out {out} is not a model or training dir; refusing to delete it, choose another --out")
            try:
                shutil.rmtree(out)
            except OSError as exc:
                raise _fail("remove", out, exc) from exc
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / INCOMPLETE).write_text("tutor train is writing this directory; it is not a usable model yet\n")
    except OSError as exc:
        raise _fail("write to", out, exc) from exc


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """`tutor.files.atomic_write`, with OSError turned into TrainingError."""
    try:
        files.atomic_write(path, write)
    except OSError as exc:
        raise _fail("write", path, exc) from exc


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    import torch

    def write(tmp: Path) -> None:
        try:
            torch.save(state, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a full disk this way
            raise OSError(str(exc).splitlines()[0] if str(exc) else "write failed") from exc

    atomic_write(out / CHECKPOINT, write)


def load_checkpoint(out: Path) -> dict[str, Any]:
    """The resume state, read with `weights_only=True`: tensors, numbers, strings, lists and
    dicts only. A checkpoint that needs anything else (a pickled object that could run code)
    is refused, never executed."""
    import pickle

    import torch

    path = out / CHECKPOINT
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global: not one of ours
        raise TrainingError(f"{path} is not a tutor checkpoint (it holds pickled objects, which tutor never "
                            f"loads); start again with --overwrite") from exc  # fmt: skip
    except Exception as exc:  # a truncated or foreign file: zip and OS errors alike
        raise TrainingError(f"{path} cannot be read ({first_line(exc)}); start again with --overwrite") from exc
    if not isinstance(state, dict) or not {"step", "config", "model", "data_hash"} <= state.keys():
        raise TrainingError(f"{path} is not a tutor checkpoint; start again with --overwrite")
    return state


def remove_checkpoint(out: Path) -> None:
    """`--no-checkpoint`: the finished run keeps its model only (no optimizer state on disk)."""
    try:
        (out / CHECKPOINT).unlink(missing_ok=True)
    except OSError as exc:
        raise _fail("remove", out / CHECKPOINT, exc) from exc


def disk_sizes(out: Path) -> dict[str, int]:
    """Bytes on disk of the model files and of the checkpoint (0 when absent)."""
    checkpoint = out / CHECKPOINT
    model = sum(p.stat().st_size for p in out.iterdir() if p.is_file() and p.suffix == ".safetensors")
    return {"model": model, "checkpoint": checkpoint.stat().st_size if checkpoint.is_file() else 0}


def save_model(out: Path, model, tokenizer) -> None:
    """Write a transformers model and tokenizer into `out` (via a temp dir, file by file renamed)."""
    staging = out / ".saving"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        for item in staging.iterdir():
            os.replace(item, out / item.name)
        staging.rmdir()
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _fail("save the model to", out, exc) from exc


def unmark_incomplete(out: Path) -> None:
    """The last write of a run: the directory is now a finished model."""
    try:
        (out / INCOMPLETE).unlink(missing_ok=True)
    except OSError as exc:
        raise _fail("finish", out, exc) from exc
