"""Token ids to text as they are generated, never half a character, in linear time.

Used by the transformers backend and by `tutor sample`.
"""

from __future__ import annotations


class IncrementalDecoder:
    """Turn ids into text as they come, holding back bytes of an unfinished character.

    Decodes a small window (prefix..end) and emits what it adds beyond prefix..read, so the
    chunks join up to exactly `tokenizer.decode(ids, **decode_options)` while each step
    decodes only the last few tokens, not the whole answer again.

    Args:
        tokenizer: a transformers tokenizer.
        decode_options: passed to `tokenizer.decode`; `skip_special_tokens` defaults to True.
    """

    def __init__(self, tokenizer, **decode_options) -> None:
        self.tokenizer = tokenizer
        self.decode_options = {"skip_special_tokens": True, **decode_options}
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, **self.decode_options)

    def add(self, token: int) -> str:
        self.ids.append(token)
        return self._advance(final=False)

    def flush(self) -> str:
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        before = self._decode(self.ids[self.prefix : self.read])
        after = self._decode(self.ids[self.prefix :])
        if len(after) > len(before) and (final or not after.endswith("\ufffd")):
            self.prefix, self.read = self.read, len(self.ids)
            return after[len(before) :]
        return ""
