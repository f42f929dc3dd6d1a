"""Training settings and the named presets `tutor train --preset` starts from.

A preset is a handful of overrides on `TrainConfig`, like nanoGPT's config files. Flags given
on the command line override the preset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from tutor.config import DEVICES
from tutor.errors import UsageError


@dataclass
class TrainConfig:
    """Everything that decides what a run computes. Saved in the checkpoint and training.json."""

    # model (ignored with init_from: the base model decides its own shape)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    block_size: int = 64  # context length in tokens
    tokenizer: str = "char"  # "char" or "bpe" (byte-level BPE trained on the corpus)
    vocab_size: int = 1024  # bpe only: the target size, including the special token
    init_from: str | None = None  # "smollm2" or a model dir: fine-tune instead of from scratch
    # optimisation
    batch_size: int = 12  # sequences per micro-batch, per process
    grad_accum: int = 1  # micro-batches per process per step: global batch = batch_size x grad_accum x processes
    steps: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4  # cosine decay ends here at `steps` (nanoGPT: lr_decay_iters = max_iters)
    warmup_steps: int = 100
    weight_decay: float = 0.1  # on matrices only, not on biases, LayerNorms or positions
    beta1: float = 0.9
    beta2: float = 0.99  # nanoGPT's shakespeare-char: few tokens per step, shorter memory
    grad_clip: float = 1.0
    # evaluation
    eval_every: int = 250
    eval_batches: int = 20  # batches per split for each loss estimate (nanoGPT's eval_iters)
    log_every: int = 10  # read the train loss back from the device this often
    # runtime
    seed: int = 1337
    device: str = "auto"
    threads: int | None = None  # torch threads on CPU; None = usable cores minus the load (see setup.cpu_threads)
    compile: bool = False  # torch.compile the training model (pays a one-off compile time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Fields that must stay the same when a run resumes; the rest (steps, device ...) may change.
FIXED_ON_RESUME = (
    "n_layer", "n_head", "n_embd", "dropout", "block_size", "tokenizer", "vocab_size",
    "init_from", "batch_size", "lr", "min_lr", "warmup_steps", "weight_decay",
    "beta1", "beta2", "grad_clip", "seed",
)  # fmt: skip

PRESETS: dict[str, dict[str, Any]] = {
    # nanoGPT's "baby GPT" for a CPU: char-level Shakespeare, about 0.8M parameters.
    "shakespeare-char": dict(
        n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, steps=2000,
        lr=1e-3, min_lr=1e-4, warmup_steps=100, dropout=0.0, eval_every=250, eval_batches=20,
    ),
    # Seconds on a CPU: for tests and smoke runs.
    "tiny": dict(
        n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8, steps=60,
        lr=3e-3, min_lr=3e-4, warmup_steps=5, eval_every=20, eval_batches=4, log_every=5,
        threads=1,  # a 30k-parameter model only pays for thread hand-offs
    ),
    # A GPU: nanoGPT's shakespeare-char GPU config (about 10M parameters).
    "small": dict(
        n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, steps=5000,
        lr=1e-3, min_lr=1e-4, warmup_steps=100, dropout=0.2, eval_every=250, eval_batches=200,
    ),
    # Fine-tuning a pretrained model on notes (`--init-from`): small steps, short run.
    "finetune": dict(
        block_size=256, batch_size=4, steps=200, lr=5e-5, min_lr=5e-6, warmup_steps=20,
        weight_decay=0.0, beta2=0.999, eval_every=50, eval_batches=8,
    ),
}  # fmt: skip


def resolve_config(preset: str, **overrides: Any) -> TrainConfig:
    """The preset with every override that is not None applied.

    Changing `lr` without `min_lr` keeps nanoGPT's ratio (min_lr = lr / 10).
    """
    if preset not in PRESETS:
        raise UsageError(f"unknown --preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    config = replace(TrainConfig(), **PRESETS[preset])
    given = {k: v for k, v in overrides.items() if v is not None}
    if "lr" in given and "min_lr" not in given:
        given["min_lr"] = given["lr"] / 10
    config = replace(config, **given)
    validate(config)
    return config


def _finite(value: float) -> bool:
    return math.isfinite(value)


def validate(config: TrainConfig) -> None:
    """Refuse settings that cannot train; non-finite floats (`--lr inf`, `nan`) included."""
    checks = [
        ("steps", config.steps >= 1, "at least 1"),
        ("batch-size", config.batch_size >= 1, "at least 1"),
        ("block-size", config.block_size >= 2, "at least 2"),
        ("grad-accum", config.grad_accum >= 1, "at least 1"),
        ("lr", _finite(config.lr) and config.lr > 0, "a finite number greater than 0"),
        ("min-lr", _finite(config.min_lr) and 0 <= config.min_lr <= config.lr, "finite, from 0 to --lr"),
        ("dropout", _finite(config.dropout) and 0 <= config.dropout < 1, "from 0 to below 1"),
        ("weight-decay", _finite(config.weight_decay) and config.weight_decay >= 0, "a finite number, 0 or more"),
        ("beta1", _finite(config.beta1) and 0 <= config.beta1 < 1, "from 0 to below 1"),
        ("beta2", _finite(config.beta2) and 0 <= config.beta2 < 1, "from 0 to below 1"),
        ("grad-clip", _finite(config.grad_clip) and config.grad_clip >= 0, "a finite number, 0 or more (0 = off)"),
        ("log-every", config.log_every >= 1, "at least 1"),
        ("eval-every", config.eval_every >= 1, "at least 1"),
        ("vocab-size", config.vocab_size >= 260, "at least 260 (256 bytes + specials)"),
        ("seed", config.seed >= 0, "0 or more"),
        ("threads", config.threads is None or config.threads >= 1, "at least 1"),
    ]
    for name, ok, wanted in checks:
        if not ok:
            raise UsageError(f"--{name} must be {wanted}, got {getattr(config, name.replace('-', '_'))}")
    if config.tokenizer not in ("char", "bpe"):
        raise UsageError(f"--tokenizer must be char or bpe, got {config.tokenizer!r}")
    if config.device not in DEVICES:
        raise UsageError(f"--device must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]}, got {config.device!r}")
    if config.n_embd % config.n_head:
        raise UsageError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head})")
