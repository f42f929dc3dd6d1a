"""How the transformers backend produces tokens, in a worker thread.

`GenerateEngine.run(prompt_ids, settings, emit, stop)` calls `emit(token_id)` for every new
token (the end-of-answer token included), checks the `stop` event between steps, and returns
"stop" (an end token), "length" (max tokens reached) or None (stopped from outside).
Import this module only once torch is wanted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch

from tutor.models.folder import context_length

_GLOBAL_RNG = threading.Lock()  # generate() samples from torch's global generator


@dataclass(frozen=True)
class SamplingSettings:
    """Resolved sampling settings for one answer (GenerationOptions with defaults filled in)."""

    temperature: float
    top_p: float
    top_k: int | None
    repetition_penalty: float
    max_new_tokens: int
    seed: int | None
    stop_ids: frozenset[int]
    # Earlier answers' tokens, which the repetition penalty covers besides the new answer's:
    # it stops a revision copying the last answer, while the question's and the notes' words
    # stay free to use (penalising them kept a small model from using the notes).
    penalised_ids: frozenset[int] = frozenset()


class GenerateEngine:
    """`model.generate` with a streamer that forwards ids and a criterion that checks `stop`."""

    def __init__(self, model, pad_token_id: int | None) -> None:
        self.model = model
        self.pad_token_id = pad_token_id
        self.max_positions = context_length(model.config) or 2048

    def run(
        self, prompt_ids: list[int], s: SamplingSettings, emit: Callable[[int], None], stop: threading.Event
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
            """The repetition penalty over the answer's and the earlier answers' tokens only."""

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
