"""Training text: read DATA files and folders, tokenize, split 90/10, sample batches.

Each file is one document. Documents are tokenized separately and joined with the EOS token
between them (a single file is exactly its own tokens, as in nanoGPT). The first 90% of the
tokens train, the last 10% validate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tutor.errors import TrainingError

TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    path: Path
    text: str


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrainingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"\x00" in raw:
        raise TrainingError(f"{path} looks binary (it contains NUL bytes); pass text files only")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrainingError(f"{path} is not UTF-8 text (byte {exc.start}); convert it or leave it out") from exc


def read_documents(paths: Sequence[str | Path]) -> list[Document]:
    """Every file named, and every .txt/.md file under every folder named (sorted, recursive)."""
    if not paths:
        raise TrainingError("no DATA given; pass text files or folders of .txt/.md files")
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
            if not found:
                raise TrainingError(f"folder {item} has no .txt or .md files")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise TrainingError(f"DATA {item} does not exist")
    docs = [Document(p, _read_text(p)) for p in files]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise TrainingError("the training data is empty; give files that contain text")
    return docs


def data_hash(docs: Sequence[Document]) -> str:
    """sha256 over the documents' text, in order: tells whether a resume sees the same data."""
    h = hashlib.sha256()
    for doc in docs:
        h.update(doc.text.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def tokenize_documents(tokenizer, docs: Sequence[Document], eos_id: int) -> list[int]:
    from tutor.gpt.tokenizer import encode

    ids: list[int] = []
    for i, doc in enumerate(docs):
        if i:
            ids.append(eos_id)
        ids.extend(encode(tokenizer, doc.text))
    return ids


class Batches:
    """Random (x, y) windows of `block_size` tokens from a train/val split, nanoGPT-style.

    Args:
        ids: the whole corpus as token ids.
        block_size: tokens per window; y is x shifted by one.
        batch_size: windows per batch.
        device: where batches go.
    """

    def __init__(self, ids: Sequence[int], *, block_size: int, batch_size: int, device: str) -> None:
        import torch

        data = torch.tensor(ids, dtype=torch.long)
        n = int(0.9 * len(data))
        self.splits = {"train": data[:n], "val": data[n:]}
        need = block_size + 2  # one window plus its shifted target, and at least one start
        for name, split in self.splits.items():
            if len(split) < need:
                # The largest block size both splits can take: the val split is the shorter one.
                fits = min(len(s) for s in self.splits.values()) - 2
                fix = f"lower --block-size (at most {fits} fits this corpus)" if fits >= 2 else "add more text"
                where = "its 10% validation split" if name == "val" else "its 90% training split"
                raise TrainingError(
                    f"the corpus has {len(data)} tokens, too few for --block-size {block_size} "
                    f"({where} needs at least {need}): add text or {fix}"
                    if fits >= 2
                    else f"the corpus has {len(data)} tokens, too few to train on: add more text"
                )
        self.block_size = block_size
        self.batch_size = batch_size
        self.device = device
        self._offsets = torch.arange(block_size + 1)

    def tokens(self, split: str) -> int:
        return len(self.splits[split])

    def get(self, split: str, generator):
        """One batch of windows: x (B, T) and y (B, T), drawn with `generator`."""
        return self.shard(split, generator, micro_batches=1, first=0, count=1)[0]

    def shard(self, split: str, generator, *, micro_batches: int, first: int, count: int):
        """Micro-batches `first`..`first + count - 1` of one global batch of `micro_batches`.

        Every process draws the start offsets of the whole global batch from the same
        generator and keeps its own slice, so the global batch (and the generator's state
        afterwards) is the same whatever the number of processes: two processes with one
        micro-batch each see exactly what one process with `--grad-accum 2` sees.
        """
        import torch

        data = self.splits[split]
        starts = torch.randint(len(data) - self.block_size - 1, (micro_batches, self.batch_size), generator=generator)
        out = []
        for row in starts[first : first + count]:
            window = data[row[:, None] + self._offsets]  # (B, T + 1)
            x, y = window[:, :-1].contiguous(), window[:, 1:].contiguous()
            if self.device != "cpu":
                x = x.pin_memory().to(self.device, non_blocking=True)
                y = y.pin_memory().to(self.device, non_blocking=True)
            out.append((x, y))
        return out
