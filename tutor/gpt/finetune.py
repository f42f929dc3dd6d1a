"""Fine-tuning a pretrained model on the learner's notes (`tutor train NOTES --init-from ...`).

How notes become training text: plain continued pretraining. Each notes file is one
document; its text is tokenized with the base model's own tokenizer (no chat template, no
special tokens added), documents are joined with the tokenizer's EOS token between them, and
the token stream is cut into random `block_size` windows exactly like training from scratch
(first 90% train, last 10% validation). The loss is next-token cross-entropy on every token.
The saved directory keeps the base tokenizer and chat template unchanged, so the result
chats like the base model, with the notes' wording and facts nudged in.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F

from tutor.errors import ModelError, TrainingError


def resolve_base(spec: str) -> Path:
    """The model directory `--init-from` names: "smollm2" (converted once) or a model dir."""
    from tutor.models import store

    try:
        return store.resolve(spec).path
    except ModelError as exc:
        raise TrainingError(f"--init-from {spec}: {exc}") from exc


def load_base(path: Path):
    """(model, tokenizer) of a transformers model dir, in float32 for training."""
    from tutor.models.transformers_load import load_folder

    try:
        loaded = load_folder(path)
    except ModelError as exc:
        raise TrainingError(f"--init-from {path}: {exc}") from exc
    if loaded.tokenizer.eos_token_id is None:
        raise TrainingError(f"--init-from {path}: its tokenizer has no EOS token to separate notes")
    return loaded.model, loaded.tokenizer


class CausalLM(nn.Module):
    """A transformers causal LM behind the training interface: forward(idx, targets) -> (logits, loss).

    Targets are already shifted by one (see `Batches`), so the loss is computed here rather
    than with the model's `labels`, which would shift again.
    """

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.model(input_ids=idx, use_cache=False).logits  # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
