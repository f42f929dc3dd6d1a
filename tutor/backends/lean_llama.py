"""A lean Llama forward pass for fast batch-1 decoding on the CPU.

`model.generate` spends much of each step in Python (cache objects, masks, attention
dispatch, logits processors) on a 30-layer model this small. This module reads the same
safetensors weights, fuses q/k/v and gate/up into one matrix each, keeps a preallocated KV
cache, and runs one plain loop per step. Used only for configs `supports()` accepts; every
other model goes through `generate`. Import it only after torch is wanted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

WEIGHT_FORMATS = ("fp32", "bf16", "int8")


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


class _Linear:
    """y = x @ W.T in the chosen format; int8 keeps per-row scales and quantizes x per call."""

    def __init__(self, weight: torch.Tensor, fmt: str) -> None:
        self.out_features = weight.shape[0]
        self.fmt = fmt
        if fmt == "int8":
            scale = (weight.abs().amax(dim=1).clamp(min=1e-8) / 127).double()
            zero = torch.zeros(weight.shape[0], dtype=torch.long)
            q = torch.quantize_per_channel(weight.float(), scale, zero, 0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(q, None)
        else:
            self.weight = weight.to(torch.bfloat16 if fmt == "bf16" else torch.float32).contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fmt == "int8":
            return torch.ops.quantized.linear_dynamic(x.contiguous(), self.packed, False)
        return F.linear(x, self.weight)


class LeanLlama:
    """Llama weights laid out for decoding. `forward(ids, pos)` returns the last token's logits.

    Args:
        config: the model's config.json as a dict (`supports(config)` must be True).
        tensors: the state dict, names as in transformers' LlamaForCausalLM.
        fmt: "fp32", "bf16" (halves memory traffic) or "int8" (per-row weights, dynamic inputs).
    """

    def __init__(self, config: dict, tensors: dict[str, torch.Tensor], fmt: str = "fp32") -> None:
        assert fmt in WEIGHT_FORMATS, f"unknown weight format {fmt}"
        self.c = c = lean_config(config)
        self.fmt = fmt
        self.dtype = torch.float32 if fmt != "bf16" else torch.bfloat16
        self.embed = tensors["model.embed_tokens.weight"].to(self.dtype)
        self.qkv, self.o, self.gate_up, self.down, self.norm1, self.norm2 = [], [], [], [], [], []
        for i in range(c.n_layer):
            p = f"model.layers.{i}."
            t = {name: tensors[p + name] for name in _LAYER_TENSORS}
            attn = [t["self_attn.q_proj.weight"], t["self_attn.k_proj.weight"], t["self_attn.v_proj.weight"]]
            self.qkv.append(_Linear(torch.cat(attn), fmt))
            self.o.append(_Linear(t["self_attn.o_proj.weight"], fmt))
            self.gate_up.append(_Linear(torch.cat([t["mlp.gate_proj.weight"], t["mlp.up_proj.weight"]]), fmt))
            self.down.append(_Linear(t["mlp.down_proj.weight"], fmt))
            self.norm1.append(t["input_layernorm.weight"].to(self.dtype))
            self.norm2.append(t["post_attention_layernorm.weight"].to(self.dtype))
        self.norm_f = tensors["model.norm.weight"].to(self.dtype)
        head = tensors.get("lm_head.weight") if not c.tied else None
        self.head = _Linear(head if head is not None else tensors["model.embed_tokens.weight"], fmt)
        self.inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float32) / c.head_dim))
        self.max_len = 0

    @classmethod
    def from_dir(cls, path: Path, fmt: str = "fp32") -> "LeanLlama":
        from safetensors.torch import load_file

        config = json.loads((path / "config.json").read_text())
        tensors: dict[str, torch.Tensor] = {}
        for file in sorted(path.glob("*.safetensors")):
            tensors.update(load_file(file))
        return cls(config, tensors, fmt)

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
        x = self.embed[ids]  # (1, T, C)
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
