"""Transformer encoder/decoder blocks shared by BERT, GPT-2 and ViT (Vaswani et al. 2017):
multi-head attention and a two-layer GELU MLP, each with a residual connection, normalised
after (BERT, "post-LN") or before (GPT-2 and ViT, "pre-LN") the residual."""

from __future__ import annotations

import numpy as np

from framework import Tensor, nn


class FeedForward(nn.Module):
    """Linear(dim, hidden), GELU, Linear(hidden, dim)."""

    def __init__(self, dim: int, hidden: int, approximate: str, rng: np.random.Generator) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, rng=rng)
        self.act = nn.GELU(approximate)
        self.fc2 = nn.Linear(hidden, dim, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        """fc2(gelu(fc1(x)))."""
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One transformer layer over (B, T, D).

    ``pre_norm`` selects x + f(LN(x)) (GPT-2, ViT) instead of LN(x + f(x)) (BERT).
    `forward_cached` is the causal, key/value-cached form used for decoding.
    """

    def __init__(self, dim: int, heads: int, hidden: int, *, pre_norm: bool, eps: float,
                 approximate: str, rng: np.random.Generator) -> None:
        super().__init__()
        self.pre_norm = pre_norm
        self.ln1 = nn.LayerNorm(dim, eps)
        self.attn = nn.MultiHeadAttention(dim, heads, rng=rng)
        self.ln2 = nn.LayerNorm(dim, eps)
        self.mlp = FeedForward(dim, hidden, approximate, rng)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: Tensor, causal: bool = False) -> Tensor:
        """Attention then MLP, each with its residual."""
        if self.pre_norm:
            x = x + self.dropout(self.attn(self.ln1(x), causal=causal))
            return x + self.dropout(self.mlp(self.ln2(x)))
        x = self.ln1(x + self.dropout(self.attn(x, causal=causal)))
        return self.ln2(x + self.dropout(self.mlp(x)))

    def forward_cached(self, x: Tensor, past_key: Tensor | None,
                       past_value: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Pre-LN causal layer over new positions after a key/value cache; returns
        (output, present_key, present_value)."""
        attended, key, value = self.attn.self_attend_cached(self.ln1(x), past_key, past_value)
        x = x + attended
        return x + self.mlp(self.ln2(x)), key, value
