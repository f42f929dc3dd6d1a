"""What a resumed run trains with: the checkpoint's settings, the flags given now, and the
`--grad-accum` that keeps the global batch on however many processes resume it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tutor.errors import TrainingError
from tutor.gpt import checkpoint as ckpt
from tutor.gpt.presets import FIXED_ON_RESUME, TrainConfig, validate


def config_for_resume(out: Path, *, world_size: int = 1, **overrides: Any) -> TrainConfig:
    """The saved run's config with `overrides` (flags given now) applied.

    The global batch stays what it was: with another number of processes, `grad_accum` is
    recomputed so that batch_size x grad_accum x world_size does not change.

    Raises:
        TrainingError: no checkpoint, a flag changes something a resumed run cannot change,
            or `world_size` cannot keep the checkpoint's global batch.
    """
    if not (out / ckpt.CHECKPOINT).is_file():
        raise TrainingError(f"nothing to resume: {out / ckpt.CHECKPOINT} does not exist; drop --resume to start a new run")
    state = ckpt.load_checkpoint(out)
    saved = TrainConfig.from_dict(state["config"])
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in given.items():
        if name in FIXED_ON_RESUME and value != getattr(saved, name):
            flag = "--" + name.replace("_", "-")
            raise TrainingError(
                f"{flag} {value} does not match the checkpoint's {getattr(saved, name)}; "
                f"drop {flag} to resume, or start a new run with --overwrite"
            )
    given["grad_accum"] = resume_grad_accum(saved.grad_accum * state.get("world_size", 1), world_size,
                                            given.get("grad_accum"))  # fmt: skip
    config = replace(saved, **given)
    validate(config)
    return config


def resume_grad_accum(micro_batches: int, world_size: int, requested: int | None) -> int:
    """The --grad-accum that keeps a checkpoint's `micro_batches` per step on `world_size` processes.

    Raises:
        TrainingError: `world_size` does not divide the global batch, or `requested` changes it.
    """
    fits = [n for n in range(1, micro_batches + 1) if micro_batches % n == 0]
    if micro_batches % world_size:
        raise TrainingError(
            f"mismatched world size: the checkpoint's global batch is {micro_batches} micro-batches per step, "
            f"which {world_size} processes cannot split evenly; resume with {' or '.join(map(str, fits))} processes"
        )
    needed = micro_batches // world_size
    if requested is not None and requested != needed:
        raise TrainingError(
            f"--grad-accum {requested} with {world_size} process(es) changes the checkpoint's global batch "
            f"of {micro_batches} micro-batches per step; pass --grad-accum {needed} or drop it"
        )
    return needed
