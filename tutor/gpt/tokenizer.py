"""Tokenizers trained on the corpus, saved so that `AutoTokenizer.from_pretrained(dir)` loads them.

- `char`: one token per character seen in the corpus (nanoGPT's shakespeare-char), plus
  `<|unk|>` for characters it never saw.
- `bpe`: byte-level BPE (GPT-2 style) trained with the `tokenizers` library; it can encode any
  text, so it needs no unknown token.

Both add `<|endoftext|>`, used as EOS between documents and as the end-of-answer token.
"""

from __future__ import annotations

from typing import Iterable

EOS = "<|endoftext|>"
UNK = "<|unk|>"


def _wrap(tokenizer, **special: str):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        bos_token=EOS,
        clean_up_tokenization_spaces=False,  # never glue " ," into ",": decode must round-trip
        model_max_length=1_000_000_000,  # the model config, not the tokenizer, bounds the context
        **special,
    )


def train_char_tokenizer(texts: Iterable[str]):
    """A character-level tokenizer over the characters in `texts`, in code-point order."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    chars: set[str] = set()
    for text in texts:
        chars.update(text)
    vocab = {c: i for i, c in enumerate(sorted(chars))}
    vocab[UNK] = len(vocab)
    vocab[EOS] = len(vocab)
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # join characters without spaces
    return _wrap(tokenizer, unk_token=UNK)


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int):
    """Byte-level BPE with at most `vocab_size` tokens (fewer when the corpus runs out of merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: no unknown tokens
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return _wrap(tokenizer)


def build_tokenizer(kind: str, texts: list[str], *, vocab_size: int):
    if kind == "char":
        return train_char_tokenizer(texts)
    return train_bpe_tokenizer(texts, vocab_size)


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of `text` with no BOS/EOS added (fast: skips the Python wrapper)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return backend.encode(text, add_special_tokens=False).ids
    return tokenizer.encode(text, add_special_tokens=False)


def tokenizer_from_json(text: str):
    """Rebuild a tokenizer made by this module from `tokenizer.backend_tokenizer.to_str()`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(text)
    special = {"unk_token": UNK} if tokenizer.token_to_id(UNK) is not None else {}
    return _wrap(tokenizer, **special)
