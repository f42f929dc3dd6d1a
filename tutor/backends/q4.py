"""The "q4" weight format of the lean CPU loop: 4-bit layer matrices and an int8 output layer.

Layer matrices are 4 bits per weight in groups of 32 inputs with a scale and a minimum each,
GGUF's Q4_1 layout: a model converted from a Q4_1 GGUF loses nothing more. torch's CPU
kernels for them (`_weight_int4pack_mm_for_cpu`, `_weight_int8pack_mm`) take bf16 inputs
only. Import it only after torch is wanted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GROUP = 32  # inputs per 4-bit scale, as in GGUF's Q4_0/Q4_1 blocks
EXACT_ERROR = 1e-6  # largest relative error of a q4 grid that counts as lossless
DENSE_ROWS = 8  # from this many tokens at once (a prompt), bf16 matmuls beat the 4-bit kernel
LOGIT_MARGIN = 10.0  # logits this close to the best are recomputed in fp32 (exp(-10) ~ 5e-5)


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row: returns (int8 (N, K), float32 scales (N,))."""
    scale = weight.float().abs().amax(dim=1).clamp(min=1e-8) / 127
    q = torch.round(weight.float() / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.contiguous(), scale.contiguous()


def quantize_groups(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """4 bits per weight, with a scale and a minimum for each run of GROUP inputs.

    This is GGUF's Q4_1 layout, so weights dequantized from Q4_1 come back exactly.
    Returns (packed uint8 (N, K/2), bf16 scales and zeros (K/GROUP, N, 2), the 4-bit
    weights in bf16 (N, K) for prompts, and the grid's largest absolute error relative to
    the largest weight).
    """
    n, k = weight.shape
    groups = weight.float().reshape(n, k // GROUP, GROUP)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = ((high - low) / 15).clamp(min=1e-12)
    q = torch.round((groups - low[..., None]) / scale[..., None]).clamp_(0, 15)
    on_grid = q * scale[..., None] + low[..., None]
    error = (on_grid - groups).abs().amax() / groups.abs().amax().clamp(min=1e-12)
    # The kernel computes (q - 8) * scale + zero, so zero is the value of the grid's middle.
    scales_zeros = torch.stack([scale.t(), (low + 8 * scale).t()], dim=-1).to(torch.bfloat16).contiguous()
    packed = torch._convert_weight_to_int4pack_for_cpu(q.to(torch.int32).reshape(n, k), 1)
    return packed, scales_zeros, on_grid.reshape(n, k).to(torch.bfloat16), float(error)


class Int4Linear:
    """y = x @ W.T from `quantize_groups` weights; x is rounded to bf16, the kernel's only fast input.

    The 4-bit kernel wins for a token at a time (it reads a quarter of the bytes); a prompt
    of `DENSE_ROWS` tokens or more goes through the same weights in bf16, 2.4x faster there.
    """

    def __init__(self, packed: torch.Tensor, scales_zeros: torch.Tensor, dense: torch.Tensor) -> None:
        self.packed, self.scales_zeros, self.dense = packed, scales_zeros, dense

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        if flat.shape[0] >= DENSE_ROWS:
            y = F.linear(flat, self.dense)
        else:
            y = torch._weight_int4pack_mm_for_cpu(flat, self.packed, GROUP, self.scales_zeros)
        return y.to(x.dtype).view(*x.shape[:-1], -1)


class Int8Head:
    """A (V, C) int8 matrix with per-row scales: the output layer, and the embedding rows when tied."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor) -> None:
        self.q, self.scale, self.scale_bf16 = q, scale.float(), scale.to(torch.bfloat16)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        return torch._weight_int8pack_mm(flat, self.q, self.scale_bf16).to(x.dtype).view(*x.shape[:-1], -1)

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        return self.q[ids].float() * self.scale[ids, None]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(V,) float32 logits of one position `x` (C,).

        The bf16 kernel's output keeps 8 bits: logits near 20 come in steps of 0.125, which
        ties the top candidates (SmolLM2 put "I" and "A" at exactly 44% each at temperature
        0.2). The few that can matter, those within LOGIT_MARGIN of the best, are recomputed
        from the int8 rows in fp32.
        """
        logits = self(x[None])[0].float()
        near = (logits >= logits.max() - LOGIT_MARGIN).nonzero()[:, 0]
        logits[near] = (self.q[near].float() @ x.float()) * self.scale[near]
        return logits
