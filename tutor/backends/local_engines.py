"""The two ways the local backend produces tokens, both run in a worker thread.

An engine's `run(prompt_ids, settings, emit, stop)` calls `emit(token_id)` for every new
token (the end-of-answer token included), checks the `stop` event between steps, and returns
"stop" (an end token), "length" (max tokens reached) or None (stopped from outside).

- `LeanEngine`: plain Llama models on the CPU, with `lean_llama.LeanLlama` and our sampler.
- `GenerateEngine`: anything else, through `model.generate` with a streamer.
Import this module only once torch is wanted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch

from tutor.backends.lean_llama import LeanLlama

_GLOBAL_RNG = threading.Lock()  # generate() samples from torch's global generator


@dataclass(frozen=True)
class Settings:
    """Resolved sampling settings for one answer (GenerationOptions with defaults filled in)."""

    temperature: float
    top_p: float
    top_k: int | None
    repetition_penalty: float
    max_new_tokens: int
    seed: int | None
    stop_ids: frozenset[int]
    penalised_ids: frozenset[int] = frozenset()  # prompt tokens the repetition penalty covers too


def pick_token(
    logits: torch.Tensor, history: torch.Tensor, s: Settings, generator: torch.Generator
) -> int:
    """Choose the next token from (vocab,) float32 logits, like generate's processors do.

    `history` holds the ids the repetition penalty covers: the answer's so far and
    `Settings.penalised_ids` (the earlier answers'). Unlike `generate`'s, the penalty leaves
    the rest of the prompt alone. It is there to stop the answer looping and a revision
    copying the last answer; penalising the question's and the notes' words kept a small
    model from using them (BENCHMARKS.md, "Teaching quality").
    """
    if s.repetition_penalty != 1.0 and history.numel():
        seen = logits[history]
        logits = logits.clone()
        logits[history] = torch.where(seen > 0, seen / s.repetition_penalty, seen * s.repetition_penalty)
    if s.temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / s.temperature
    if s.top_k is not None and s.top_k < logits.numel():
        kth = torch.topk(logits, s.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= s.top_p  # keep the token crossing top_p
        logits = logits.index_fill(0, order[drop], float("-inf"))
    probs = logits.softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))


class LeanEngine:
    """Greedy or sampled decoding with the lean Llama forward pass (CPU).

    Args:
        model: the lean model.
        threads: torch's (process-wide) intra-op threads while decoding; None leaves torch's
            setting. One thread is the default of `LocalBackend`: a batch-1 step is too small
            to split, and on a shared machine 2 threads were 8-14x slower (BENCHMARKS.md, local backend).
    """

    def __init__(self, model: LeanLlama, threads: int | None = None) -> None:
        self.model = model
        self.threads = threads
        self.max_positions = model.c.max_positions

    def run(
        self, prompt_ids: list[int], s: Settings, emit: Callable[[int], None], stop: threading.Event
    ) -> str | None:
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        generator = torch.Generator()
        if s.seed is not None:
            generator.manual_seed(s.seed)
        else:
            generator.seed()
        n_prompt, n_seen = len(prompt_ids), len(s.penalised_ids)
        history = torch.empty(n_seen + s.max_new_tokens, dtype=torch.long)  # penalised ids, then the answer
        history[:n_seen] = torch.tensor(sorted(s.penalised_ids), dtype=torch.long)
        self.model.reset(n_prompt + s.max_new_tokens)
        logits = self.model.forward(torch.tensor([prompt_ids]), 0)
        for step in range(s.max_new_tokens):
            if stop.is_set():
                return None
            token = pick_token(logits, history[: n_seen + step], s, generator)
            history[n_seen + step] = token
            emit(token)
            if token in s.stop_ids:
                return "stop"
            if step + 1 < s.max_new_tokens:
                logits = self.model.forward(history[n_seen + step : n_seen + step + 1].view(1, 1), n_prompt + step)
        return "length"


class GenerateEngine:
    """`model.generate` with a streamer that forwards ids and a criterion that checks `stop`."""

    def __init__(self, model, pad_token_id: int | None) -> None:
        self.model = model
        self.pad_token_id = pad_token_id
        self.max_positions = getattr(model.config, "max_position_embeddings", None) or 2048

    def run(
        self, prompt_ids: list[int], s: Settings, emit: Callable[[int], None], stop: threading.Event
    ) -> str | None:
        from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        last: list[int] = []

        class Forward(BaseStreamer):
            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value: torch.Tensor) -> None:
                if not self.prompt_seen:  # generate() first passes the prompt
                    self.prompt_seen = True
                    return
                for token in value.reshape(-1).tolist():
                    last.append(token)
                    emit(token)

            def end(self) -> None:
                pass

        class Stopped(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        earlier = torch.tensor([sorted(s.penalised_ids)], dtype=torch.long).view(1, -1)

        class AnswerPenalty(LogitsProcessor):
            """`pick_token`'s repetition penalty: the answer's and the earlier answers' tokens."""

            def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
                answer = torch.cat([earlier.to(input_ids.device), input_ids[:, len(prompt_ids) :]], dim=1)
                if s.repetition_penalty == 1.0 or answer.shape[1] == 0:
                    return scores
                seen = scores.gather(1, answer)
                penalised = torch.where(seen > 0, seen / s.repetition_penalty, seen * s.repetition_penalty)
                return scores.scatter(1, answer, penalised)

        device = next(self.model.parameters()).device
        kwargs = dict(
            max_new_tokens=s.max_new_tokens,
            eos_token_id=sorted(s.stop_ids) or None,
            pad_token_id=self.pad_token_id,
            logits_processor=LogitsProcessorList([AnswerPenalty()]),
            streamer=Forward(),
            stopping_criteria=StoppingCriteriaList([Stopped()]),
        )
        if s.temperature > 0:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k or 0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        ids = torch.tensor([prompt_ids], device=device)
        with _GLOBAL_RNG, torch.inference_mode():
            if s.seed is not None:
                torch.manual_seed(s.seed)
            self.model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
        if stop.is_set():
            return None
        if last and last[-1] in s.stop_ids:
            return "stop"
        return "length" if len(last) >= s.max_new_tokens else "stop"
