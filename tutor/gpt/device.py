"""Which torch device a `--device` choice means: "auto" takes CUDA when torch sees a GPU.

The one place the rule lives, for training (`gpt.setup`) and for answering with a model
folder (`backends.transformers`). The names themselves belong to `config.DEVICES`.
"""

from __future__ import annotations

from tutor.errors import ModelError


def choose_device(requested: str) -> str:
    """"cuda" or "cpu" for a `--device` value ("auto", "cpu" or "cuda").

    Raises:
        ModelError: CUDA was asked for and torch has no GPU.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        raise ModelError("--device cuda: no CUDA GPU is available to PyTorch; use --device cpu "
                         "(or install a CUDA build of torch: see bench/gpu_check.sh)")  # fmt: skip
    return "cuda" if has_cuda and requested != "cpu" else "cpu"
