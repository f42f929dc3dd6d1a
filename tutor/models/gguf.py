"""Convert a GGUF file into a Hugging Face model directory (config, safetensors, tokenizer).

transformers can load a GGUF file but refuses to save such a model, so we rebuild the model
from its config (without the GGUF `quantization_config`), load the dequantized tensors into
it, and save it with safetensors next to the tokenizer and its chat template. Takes ~15 s
for SmolLM2-135M; `tutor.models.store` caches the result.
"""

from __future__ import annotations

import contextlib
import io

from pathlib import Path

from tutor.errors import ModelError, first_line
from tutor.models.progress import LoadProgress

STAGES = ("reading GGUF metadata", "converting the tokenizer", "dequantizing weights", "writing safetensors")


def convert_gguf(gguf: Path, out_dir: Path, progress: LoadProgress | None = None) -> None:
    """Write a model directory for `gguf` into the existing, empty `out_dir`.

    Raises:
        ModelError: the file is damaged or holds an architecture transformers cannot load.
    """

    def report(step: int) -> None:
        if progress is not None:
            stage = STAGES[step] if step < len(STAGES) else "done"
            progress(stage, step, len(STAGES))

    report(0)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    directory, name = str(gguf.parent), gguf.name
    try:
        config = AutoConfig.from_pretrained(directory, gguf_file=name)
    except (ValueError, KeyError) as exc:
        raise ModelError(
            f"Cannot convert {gguf}: {_first_line(exc)}. Use a Llama-family GGUF or a model directory."
        ) from None
    except Exception as exc:  # gguf's reader raises bare errors on damaged files
        raise ModelError(f"Cannot read {gguf} as GGUF ({type(exc).__name__}: {_first_line(exc)}).") from None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32

    report(1)
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    except Exception as exc:
        raise ModelError(f"Cannot convert the tokenizer in {gguf}: {_first_line(exc)}.") from None

    report(2)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    try:
        with _quiet_stderr():
            tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)["tensors"]
    except ValueError as exc:
        raise ModelError(f"Cannot convert {gguf}: {_first_line(exc)}.") from None
    result = model.load_state_dict(tensors, strict=False, assign=True)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    missing = [k for k in result.missing_keys if k not in tied and "rotary_emb" not in k]
    if missing:
        raise ModelError(f"Cannot convert {gguf}: weights missing from the file ({', '.join(missing[:3])}).")
    model.tie_weights()
    leftover = [n for n, p in model.named_parameters() if p.is_meta]
    if leftover:
        raise ModelError(f"Cannot convert {gguf}: no weights for {', '.join(leftover[:3])}.")
    model.eval()

    report(3)
    with _quiet_stderr():
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    report(4)


def _quiet_stderr():
    """Swallow transformers' own tqdm bars, which would garble the caller's progress display."""
    return contextlib.redirect_stderr(io.StringIO())


def _first_line(exc: BaseException) -> str:
    """The error's first line, without a closing period: our messages add their own."""
    return first_line(exc).rstrip(".")
