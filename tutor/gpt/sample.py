"""`tutor sample`: raw continuations from a model directory, streamed as they are generated.

Any transformers causal LM works (a `tutor train` result, a fine-tune, a downloaded model).
Like nanoGPT's `generate`, the model always sees at most its context length of recent
tokens: past it, the oldest tokens fall out of the window. Generation stops after
`max_tokens` tokens or at the EOS token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from tutor.errors import ModelError
from tutor.gpt.detokenize import IncrementalDecoder
from tutor.models.folder import context_length


def load_model(spec: str):
    """(model, tokenizer) for a model dir; an unfinished `tutor train` dir is refused."""
    from tutor.models.folder import INCOMPLETE
    from tutor.models.transformers_load import load_folder

    path = Path(spec).expanduser()
    if path.is_dir() and (path / INCOMPLETE).exists():
        raise ModelError(f"{path} is an unfinished training run; finish it with `tutor train ... --out {path} --resume`")
    if not (path.is_dir() and (path / "config.json").is_file()):
        from tutor.models import store

        path = store.resolve(spec).path
    loaded = load_folder(path)
    return loaded.model, loaded.tokenizer


def generate_ids(
    model, ids: list[int], *, max_tokens: int, temperature: float, top_k: int | None, seed: int | None,
    eos_id: int | None = None,
) -> Iterator[int]:  # fmt: skip
    """Yield new token ids one by one (KV cache while the window fits, recompute past it)."""
    import torch

    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    context = context_length(model.config) or 1 << 30  # no limit given: the window never slides
    keyword = _cache_keyword(model)
    history = list(ids)
    cache, feed = _new_cache(), history[-context:]
    with torch.inference_mode():
        for _ in range(max_tokens):
            out = model(input_ids=torch.tensor([feed]), use_cache=True, **{keyword: cache})
            logits = out.logits[0, -1].float()
            if not torch.isfinite(logits).all():
                raise ModelError("the model's outputs are NaN or infinite (its training diverged); "
                                 "train it again with a lower --lr")  # fmt: skip
            if temperature == 0:
                token = int(logits.argmax())
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.numel():
                    kth = torch.topk(logits, top_k).values[-1]
                    logits[logits < kth] = -float("inf")
                probs = torch.softmax(logits, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            if token == eos_id:
                return
            yield token
            history.append(token)
            if cache.get_seq_length() + 1 > context:  # the window is full: slide it and recompute
                cache, feed = _new_cache(), history[-context:]
            else:
                feed = [token]  # the model appended this step's keys and values to `cache`


def _new_cache():
    from transformers import DynamicCache

    return DynamicCache()


def _cache_keyword(model) -> str:
    """`cache` in current transformers; `past_key_values` (now deprecated there) before it."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def stream_text(tokenizer, ids: Iterator[int]) -> Iterator[str]:
    """Decode incrementally; never emit half a UTF-8 character (held back until complete)."""
    decoder = IncrementalDecoder(tokenizer, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    for token in ids:
        if text := decoder.add(token):
            yield text
    if text := decoder.flush():
        yield text


def sample(
    model, tokenizer, prompt: str, *, max_tokens: int = 300, temperature: float = 0.8,
    top_k: int | None = 200, seed: int | None = None,
) -> Iterator[str]:  # fmt: skip
    """Stream the continuation of `prompt` (without the prompt itself)."""
    from tutor.gpt.tokenizer import encode

    ids = encode(tokenizer, prompt) if prompt else []
    if not ids:  # start from the document separator, as if a new document began
        start = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.bos_token_id
        if start is None:
            raise ModelError("the prompt is empty and the tokenizer has no EOS/BOS token; pass --prompt")
        ids = [start]
    eos = tokenizer.eos_token_id
    return stream_text(tokenizer, generate_ids(model, ids, max_tokens=max_tokens, temperature=temperature,
                                               top_k=top_k, seed=seed, eos_id=eos))  # fmt: skip
