"""GPT-2 small (Radford et al. 2019) in Hugging Face's GPT2LMHeadModel layout: token and
position embeddings, 12 pre-LN causal layers with tanh-GELU, final LayerNorm, and an LM head
tied to the token embedding: 124,439,808 parameters ("124 M").

Two modes. ``prefill`` runs ``seq`` prompt tokens (input ``input_ids`` (B, seq)) and returns the
logits of every position plus each layer's keys and values (the KV cache). ``decode`` runs one
new token after ``past`` cached positions: inputs ``input_ids`` (B, 1) and, per layer i,
``past_key_i`` / ``past_value_i`` (B, heads, past, head_dim); outputs ``logits`` (B, 1, vocab)
and ``present_key_i`` / ``present_value_i`` holding past + 1 positions.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from framework import Tensor, TensorType, nn
from framework.nn import functional as F

from .common import Model, make_model, require
from .transformer import Block

LN_EPS = 1e-5  # GPT2Config.layer_norm_epsilon


class GPT2(nn.Module):
    """Decoder-only transformer with a KV-cache entry point."""

    def __init__(self, vocab: int, hidden: int, layers: int, heads: int, max_positions: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden, rng=rng, std=0.02)
        self.wpe = nn.Embedding(max_positions, hidden, rng=rng, std=0.01)
        self.h = nn.ModuleList(
            Block(hidden, heads, 4 * hidden, pre_norm=True, eps=LN_EPS, approximate="tanh",
                  rng=rng) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden, LN_EPS)
        self.layers = layers

    def forward(self, input_ids: Tensor, **past: Tensor) -> dict[str, Tensor]:
        """Logits for the new tokens and the updated cache (see the module docstring)."""
        start = past["past_key_0"].shape[2] if past else 0
        seq = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe.weight[start:start + seq]
        outputs: dict[str, Tensor] = {}
        for i, layer in enumerate(self.h):
            x, key, value = cast(Block, layer).forward_cached(x, past.get(f"past_key_{i}"),
                                                 past.get(f"past_value_{i}"))
            outputs[f"present_key_{i}"] = key
            outputs[f"present_value_{i}"] = value
        # the LM head reuses the token embedding: logits = x @ wte.T (a LINEAR with that weight)
        return {"logits": F.linear(self.ln_f(x), self.wte.weight), **outputs}


def gpt2_small(batch: int, mode: str, seq: int, past: int, layers: int, hidden: int, heads: int,
               vocab: int, max_positions: int, dtype: str, seed: int) -> Model:
    """GPT-2 in ``prefill`` (``seq`` tokens) or ``decode`` (one token after ``past``) mode."""
    require(mode in ("prefill", "decode"), "gpt2_small",
            f"mode must be 'prefill' or 'decode', got {mode!r}")
    require(hidden % heads == 0, "gpt2_small", f"hidden {hidden} not divisible by heads {heads}")
    model = GPT2(vocab, hidden, layers, heads, max_positions, np.random.default_rng(seed))
    if mode == "prefill":
        require(1 <= seq <= max_positions, "gpt2_small",
                f"seq must be in 1..{max_positions}, got {seq}")
        inputs = {"input_ids": TensorType((batch, seq), "int64")}
    else:
        require(1 <= past < max_positions, "gpt2_small",
                f"past must be in 1..{max_positions - 1}, got {past}")
        cache = TensorType((batch, heads, past, hidden // heads), dtype)
        inputs = {"input_ids": TensorType((batch, 1), "int64")}
        for i in range(layers):
            inputs[f"past_key_{i}"] = cache
            inputs[f"past_value_{i}"] = cache
    return make_model(model, f"gpt2_small_{mode}", inputs, dtype, id_limit=vocab)


GPT2_DEFAULTS = {"mode": "prefill", "seq": 128, "past": 127, "layers": 12, "hidden": 768,
                 "heads": 12, "vocab": 50257, "max_positions": 1024}
