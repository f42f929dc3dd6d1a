"""A Hugging Face model folder (config.json, *.safetensors, tokenizer): is it complete, what is in it.

Cheap on purpose: these checks read file headers only, so model lookup runs them on every start.
Loading the weights is `tutor.models.transformers_load`.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from tutor.errors import ModelError

# Present while `tutor train` writes a folder (see `tutor.gpt.checkpoint`): load nothing from it.
INCOMPLETE = ".tutor-incomplete"


def check_model_dir(path: Path) -> None:
    """Raise ModelError unless `path` holds a config and complete safetensors weights."""
    if (path / INCOMPLETE).exists():
        raise ModelError(
            f"{path} is an unfinished `tutor train` run (interrupted or still training): "
            "finish it with  tutor train ... --out DIR --resume  or pick another model"
        )
    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a model directory: it has no config.json. Pass a Hugging Face "
            "model directory (config.json, *.safetensors, tokenizer) or a .gguf file."
        )
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        raise ModelError(f"{path} has no *.safetensors weights. Save the model with safetensors.")
    for file in weights:
        check_safetensors(file)


def read_config(path: Path) -> dict:
    """The folder's config.json, parsed; the one read of it on a model load."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {path / 'config.json'}: {exc}") from None
    if not isinstance(config, dict):
        raise ModelError(f"Cannot read {path / 'config.json'}: it holds no JSON object")
    return config


def context_length(config) -> int | None:
    """Tokens the model can attend to, from its transformers config; None when it does not say."""
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def safetensors_header(file: Path) -> dict:
    """The JSON header of a safetensors file; ModelError if the file is cut short or garbled."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise ValueError("header longer than the file")
            header = json.loads(f.read(length))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ModelError(f"{file} is not a valid safetensors file ({exc}); copy the model again.") from None
    if 8 + length + end != size:
        raise ModelError(
            f"{file} is truncated or damaged ({size} bytes, expected {8 + length + end}); "
            "copy or save the model again."
        )
    return header


def check_safetensors(file: Path) -> None:
    safetensors_header(file)


def count_parameters(path: Path) -> int | None:
    """Parameters in a model directory, read from the safetensors headers only."""
    total = 0
    try:
        for file in path.glob("*.safetensors"):
            for key, info in safetensors_header(file).items():
                if key != "__metadata__":
                    n = 1
                    for dim in info["shape"]:
                        n *= dim
                    total += n
    except (ModelError, OSError):
        return None
    return total or None


_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def refuse_pickled_weights(path: Path) -> None:
    """A model dir whose weights exist only as pickles is refused before anything reads them.

    Raises:
        ModelError: no .safetensors file, but a pickle-format weights file.
    """
    if not path.is_dir() or any(path.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
    if pickled:
        raise ModelError(
            f"{path} has its weights only as a pickle ({pickled[0]}), which tutor never loads because "
            f"unpickling can run code; use a copy with model.safetensors (save_pretrained writes one)"
        )
