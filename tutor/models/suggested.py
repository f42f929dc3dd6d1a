"""Good tutor models to pull, by size: the short names `tutor pull NAME` and `--model NAME` accept.

Repo ids and file names were checked against the Hub's file listings (bartowski's repos hold one
unsplit Q4_K_M file per model; Qwen's own 7B repo splits its larger quantizations, which `tutor
pull` does not join). Sizes are the Hub's listed sizes. RAM is an estimate, not a measurement:
the file (llama.cpp maps it) plus the KV cache and buffers of a 4k-token context.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuggestedModel:
    """One pullable model.

    Args:
        name: the short name, e.g. `qwen2.5-3b`.
        repo: the Hugging Face repo id.
        file: the GGUF file in that repo.
        size: the file size as the Hub lists it, for people choosing.
        ram: about how much free memory it needs.
        note: one phrase on when to choose it.
    """

    name: str
    repo: str
    file: str
    size: str
    ram: str
    note: str


SUGGESTED: dict[str, SuggestedModel] = {
    model.name: model
    for model in (
        SuggestedModel(
            "qwen2.5-1.5b",
            "bartowski/Qwen2.5-1.5B-Instruct-GGUF",
            "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
            "986 MB",
            "2 GB",
            "fast on any laptop",
        ),
        SuggestedModel(
            "smollm2-1.7b",
            "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF",
            "smollm2-1.7b-instruct-q4_k_m.gguf",
            "1.06 GB",
            "2 GB",
            "the bigger sibling of the embedded SmolLM2-135M",
        ),
        SuggestedModel(
            "qwen2.5-3b",
            "bartowski/Qwen2.5-3B-Instruct-GGUF",
            "Qwen2.5-3B-Instruct-Q4_K_M.gguf",
            "1.93 GB",
            "3 GB",
            "clearly better explanations; Qwen research licence (non-commercial)",
        ),
        SuggestedModel(
            "qwen2.5-7b",
            "bartowski/Qwen2.5-7B-Instruct-GGUF",
            "Qwen2.5-7B-Instruct-Q4_K_M.gguf",
            "4.68 GB",
            "6 GB",
            "the best teacher here; slow without a GPU",
        ),
    )
}
