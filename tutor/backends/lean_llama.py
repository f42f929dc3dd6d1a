"""A lean Llama forward pass for fast batch-1 decoding on the CPU.

`model.generate` spends much of each step in Python (cache objects, masks, attention
dispatch, logits processors) on a 30-layer model this small. This module reads the same
safetensors weights, fuses q/k/v and gate/up into one matrix each, keeps a preallocated KV
cache, and runs one plain loop per step. Used only for configs `supports()` accepts; every
other model goes through `generate`. Import it only after torch is wanted.

"q4" weights (`tutor.backends.q4`) are quantized once and cached by `lean_cache.q4_cache`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from tutor import modelstore
from tutor.backends.q4 import GROUP, Int4Linear, Int8Head, quantize_groups, quantize_rows

WEIGHT_FORMATS = ("fp32", "bf16", "q4")
_MATRICES = ("qkv", "o", "gate_up", "down")


@dataclass(frozen=True)
class LeanConfig:
    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab: int
    eps: float
    rope_theta: float
    max_positions: int
    tied: bool


def supports(config: dict) -> bool:
    """True for plain Llama configs: no biases, SiLU MLP, unscaled RoPE."""
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    return (
        config.get("model_type") == "llama"
        and not config.get("attention_bias", False)
        and not config.get("mlp_bias", False)
        and config.get("hidden_act", "silu") == "silu"
        and rope.get("rope_type", "default") == "default"
        and config.get("pretraining_tp", 1) == 1
    )


def lean_config(config: dict) -> LeanConfig:
    n_head = config["num_attention_heads"]
    rope = config.get("rope_parameters") or {}
    return LeanConfig(
        n_layer=config["num_hidden_layers"],
        n_head=n_head,
        n_kv_head=config.get("num_key_value_heads") or n_head,
        head_dim=config.get("head_dim") or config["hidden_size"] // n_head,
        hidden=config["hidden_size"],
        intermediate=config["intermediate_size"],
        vocab=config["vocab_size"],
        eps=config.get("rms_norm_eps", 1e-6),
        rope_theta=rope.get("rope_theta", config.get("rope_theta", 10000.0)),
        max_positions=config.get("max_position_embeddings", 2048),
        tied=config.get("tie_word_embeddings", False),
    )


class _Dense:
    """y = x @ W.T with W in fp32 or bf16 (x must have W's dtype)."""

    def __init__(self, weight: torch.Tensor, dtype: torch.dtype) -> None:
        self.weight = weight.to(dtype).contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


def q4_fits(config: dict) -> bool:
    """True when every matrix's input width is a whole number of GROUPs, as q4 needs."""
    c = lean_config(config)
    return all(width % GROUP == 0 for width in (c.hidden, c.n_head * c.head_dim, c.intermediate))


def read_tensors(model_dir: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the model's safetensors files, by name."""
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(model_dir.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def lean_state(config: dict, tensors: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
    """Transformers' Llama tensors fused (q/k/v, gate/up) and, for "q4", quantized.

    Keys: `embed`, `norm_f`, `{i}.norm1`, `{i}.norm2`, `{i}.<matrix>` for qkv/o/gate_up/down,
    and `head`. In "q4" each layer matrix is packed 4-bit with a bf16 `<name>.sz` (scales
    and zeros) and the 4-bit weights rounded to bf16, `<name>.bf16`, beside it; `head` is
    int8 with a float32 `head.scale`; `embed` is left out when tied to `head`; and
    `q4_error` holds `quantize_groups`' largest error.
    """
    c = lean_config(config)
    state = {"embed": tensors["model.embed_tokens.weight"], "norm_f": tensors["model.norm.weight"]}
    matrices = {}
    for i in range(c.n_layer):
        t = {name: tensors[f"model.layers.{i}.{name}"] for name in _LAYER_TENSORS}
        attn = [t["self_attn.q_proj.weight"], t["self_attn.k_proj.weight"], t["self_attn.v_proj.weight"]]
        matrices[f"{i}.qkv"] = torch.cat(attn)
        matrices[f"{i}.o"] = t["self_attn.o_proj.weight"]
        matrices[f"{i}.gate_up"] = torch.cat([t["mlp.gate_proj.weight"], t["mlp.up_proj.weight"]])
        matrices[f"{i}.down"] = t["mlp.down_proj.weight"]
        state[f"{i}.norm1"] = t["input_layernorm.weight"]
        state[f"{i}.norm2"] = t["post_attention_layernorm.weight"]
    head = tensors.get("lm_head.weight") if not c.tied else None
    head = head if head is not None else tensors["model.embed_tokens.weight"]
    if fmt != "q4":
        return {**state, **matrices, "head": head}
    error = 0.0
    for name, weight in matrices.items():
        state[name], state[name + ".sz"], state[name + ".bf16"], matrix_error = quantize_groups(weight)
        error = max(error, matrix_error)
    state["head"], state["head.scale"] = quantize_rows(head)
    if c.tied:
        del state["embed"]
    state["q4_error"] = torch.tensor(error)
    return state


class LeanLlama:
    """Llama weights laid out for decoding. `forward(ids, pos)` returns the last token's logits.

    Args:
        config: the model's config.json as a dict (`supports(config)` must be True).
        tensors: the state dict, names as in transformers' LlamaForCausalLM.
        fmt: "fp32"; "bf16" (halves memory traffic); or "q4" (4-bit layer matrices and an
            int8 output layer, read by bf16 kernels; the residual stream stays fp32).
    """

    def __init__(self, config: dict, tensors: dict[str, torch.Tensor], fmt: str = "fp32") -> None:
        self._build(config, lean_state(config, tensors, fmt), fmt)

    def _build(self, config: dict, state: dict[str, torch.Tensor], fmt: str) -> None:
        assert fmt in WEIGHT_FORMATS, f"unknown weight format {fmt}"
        self.c = c = lean_config(config)
        self.fmt = fmt
        self.dtype = torch.bfloat16 if fmt == "bf16" else torch.float32
        if fmt == "q4":
            linear = lambda name: Int4Linear(state[name], state[name + ".sz"], state[name + ".bf16"])  # noqa: E731
            self.head = Int8Head(state["head"], state["head.scale"])
        else:
            linear = lambda name: _Dense(state[name], self.dtype)  # noqa: E731
            self.head = linear("head")
        embed = state.get("embed")
        self.embed = self.head.rows if embed is None else embed.to(self.dtype).__getitem__
        self.qkv, self.o, self.gate_up, self.down = ([linear(f"{i}.{m}") for i in range(c.n_layer)] for m in _MATRICES)
        self.norm1 = [state[f"{i}.norm1"].to(self.dtype) for i in range(c.n_layer)]
        self.norm2 = [state[f"{i}.norm2"].to(self.dtype) for i in range(c.n_layer)]
        self.norm_f = state["norm_f"].to(self.dtype)
        self.inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float32) / c.head_dim))
        self.max_len = 0

    @classmethod
    def from_dir(cls, path: Path, fmt: str = "fp32", progress: modelstore.LoadProgress | None = None) -> "LeanLlama":
        """Load `path`; "q4" reads (building on first use) the q4 cache for `path`."""
        from safetensors.torch import load_file

        config = json.loads((path / "config.json").read_text())
        self = cls.__new__(cls)
        if fmt == "q4":
            from tutor.backends.lean_cache import Q4_FILE, q4_cache

            self._build(config, load_file(q4_cache(path, progress) / Q4_FILE), fmt)
            return self
        self._build(config, lean_state(config, read_tensors(path), fmt), fmt)
        return self

    def reset(self, max_len: int) -> None:
        """Make room for `max_len` positions; the cache contents become irrelevant."""
        c = self.c
        if max_len > self.max_len:
            shape = (c.n_layer, 1, c.n_kv_head, max_len, c.head_dim)  # (L, B, nkv, T, hs)
            self.k_cache = torch.zeros(shape, dtype=self.dtype)
            self.v_cache = torch.zeros(shape, dtype=self.dtype)
            freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), self.inv_freq)
            emb = torch.cat([freqs, freqs], dim=-1)  # (T, hs)
            self.cos, self.sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
            self.max_len = max_len

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), weight, self.c.eps)  # one op instead of seven
        return F.rms_norm(x.float(), (x.shape[-1],), eps=self.c.eps).to(self.dtype) * weight

    @staticmethod
    def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, pos: int) -> torch.Tensor:
        """Run tokens `ids` (1, T) placed at positions pos..pos+T-1; return (vocab,) float32 logits."""
        c = self.c
        T = ids.shape[1]
        assert pos + T <= self.max_len, f"cache holds {self.max_len} positions, need {pos + T}"
        assert T == 1 or pos == 0, "prefill must start at position 0"
        nq, heads = c.n_head * c.head_dim, c.n_head + 2 * c.n_kv_head
        cos, sin = self.cos[pos : pos + T, None], self.sin[pos : pos + T, None]  # (T, 1, hs)
        x = self.embed(ids)  # (1, T, C)
        for i in range(c.n_layer):
            h = self._norm(x, self.norm1[i])
            qkv = self.qkv[i](h).view(1, T, heads, c.head_dim)  # (1, T, nh + 2 nkv, hs)
            qk = self._rope(qkv[:, :, : c.n_head + c.n_kv_head], cos, sin).transpose(1, 2)  # q and k at once
            q, k = qk[:, : c.n_head], qk[:, c.n_head :]  # (1, nh, T, hs), (1, nkv, T, hs)
            self.k_cache[i, :, :, pos : pos + T] = k
            self.v_cache[i, :, :, pos : pos + T] = qkv[:, :, c.n_head + c.n_kv_head :].transpose(1, 2)
            keys, values = self.k_cache[i, :, :, : pos + T], self.v_cache[i, :, :, : pos + T]
            # Prefill starts at 0 so the causal mask is exact; a single new token sees everything.
            att = F.scaled_dot_product_attention(q, keys, values, is_causal=T > 1, enable_gqa=True)  # (1, nh, T, hs)
            x = x + self.o[i](att.transpose(1, 2).reshape(1, T, nq))
            gate_up = self.gate_up[i](self._norm(x, self.norm2[i]))
            x = x + self.down[i](F.silu(gate_up[..., : c.intermediate]) * gate_up[..., c.intermediate :])
        last = self._norm(x[:, -1], self.norm_f)  # (1, C)
        if isinstance(self.head, Int8Head):
            return self.head.logits(last[0])
        return self.head(last)[0].float()


_LAYER_TENSORS = (
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
    "input_layernorm.weight",
    "post_attention_layernorm.weight",
)
