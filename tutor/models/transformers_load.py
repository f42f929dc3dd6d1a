"""Load a Hugging Face model folder on transformers: the one place its weights and tokenizer are read.

config.json is parsed once (`folder.read_config`) and handed to transformers as a config
object, so neither the tokenizer nor the model reads it again. Weights come from safetensors
only (a pickle can run code). On CUDA the model runs in bf16, on the CPU in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutor.errors import ModelError, first_line
from tutor.models.folder import read_config, refuse_pickled_weights


@dataclass
class LoadedFolder:
    """A model folder in memory: the transformers model, its tokenizer, and config.json as parsed."""

    model: Any
    tokenizer: Any
    config: dict


def load_folder(path: Path, *, device: str = "cpu", fast_tokenizer: bool = False) -> LoadedFolder:
    """Read the model in `path` onto `device` ("cpu" or "cuda"), in eval mode.

    Args:
        fast_tokenizer: take `tokenizer.json` with the generic fast class when there is one
            (about 1 s quicker than AutoTokenizer); False keeps the class the folder names,
            which is what a fine-tune saves again.

    Raises:
        ModelError: the folder's config, tokenizer or weights cannot be loaded.
    """
    refuse_pickled_weights(path)
    config = read_config(path)
    transformers_config = _transformers_config(path, config)
    # One thread only: transformers' lazy module is not safe to import from two threads at
    # once, and loading the tokenizer beside the weights broke every trained model in a
    # fresh process ("cannot import name 'AutoModelForCausalLM'").
    tokenizer = _load_tokenizer(path, transformers_config, fast=fast_tokenizer)
    model = _load_weights(path, transformers_config, device)
    return LoadedFolder(model, tokenizer, config)


def _transformers_config(path: Path, config: dict):
    from transformers import CONFIG_MAPPING

    try:
        return CONFIG_MAPPING[config["model_type"]].from_dict(config)
    except Exception as exc:  # an unknown model_type, or fields the config class refuses
        raise ModelError(f"Cannot load the model in {path}: {type(exc).__name__}: {first_line(exc)}") from None


def _load_tokenizer(path: Path, transformers_config, *, fast: bool):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        if fast and (path / "tokenizer.json").is_file():
            return PreTrainedTokenizerFast.from_pretrained(str(path))
        return AutoTokenizer.from_pretrained(str(path), config=transformers_config)
    except Exception as exc:  # transformers raises many kinds here
        raise ModelError(f"Cannot load the tokenizer in {path}: {first_line(exc)}") from None


def _load_weights(path: Path, transformers_config, device: str):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise in a lesson
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path), config=transformers_config, dtype=dtype, use_safetensors=True
        )
        return model.to(device).eval()
    except Exception as exc:  # safetensors, transformers and torch each raise their own errors
        raise ModelError(f"Cannot load the model in {path}: {first_line(exc)}") from None
