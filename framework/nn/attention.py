"""Multi-head attention (Vaswani et al. 2017) over batch-first (B, T, D) tensors, with a
key/value-cache entry point for autoregressive decoding."""

from __future__ import annotations

import numpy as np

from ..errors import FrameworkError
from ..tensor import Tensor, concat
from . import functional as F
from .layers import Linear
from .module import Module


class MultiHeadAttention(Module):
    """Attention with ``num_heads`` heads of size dim / num_heads and separate q, k, v and
    output projections (the parameter count of torch.nn.MultiheadAttention: 4 * (D*D + D))."""

    def __init__(self, dim: int, num_heads: int, *, rng: np.random.Generator,
                 bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise FrameworkError(f"MultiHeadAttention: dim {dim} not divisible by "
                                 f"num_heads {num_heads}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.q_proj = Linear(dim, dim, rng=rng, bias=bias)
        self.k_proj = Linear(dim, dim, rng=rng, bias=bias)
        self.v_proj = Linear(dim, dim, rng=rng, bias=bias)
        self.out_proj = Linear(dim, dim, rng=rng, bias=bias)

    def _heads(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, D/H)."""
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def _merge(self, x: Tensor) -> Tensor:
        """(B, H, T, D/H) -> (B, T, D), then the output projection."""
        b, _, t, _ = x.shape
        return self.out_proj(x.permute(0, 2, 1, 3).reshape(b, t, self.dim))

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,
                mask: Tensor | None = None, causal: bool = False) -> Tensor:
        """Attend from ``query`` to ``key``/``value`` (self-attention when omitted).

        ``mask`` is bool, True where allowed, broadcast against (B, H, Tq, Tk).
        """
        key = query if key is None else key
        value = key if value is None else value
        q = self._heads(self.q_proj(query))
        k = self._heads(self.k_proj(key))
        v = self._heads(self.v_proj(value))
        return self._merge(F.scaled_dot_product_attention(q, k, v, mask, causal))

    def self_attend_cached(self, x: Tensor, past_key: Tensor | None = None,
                           past_value: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Causal self-attention of the new positions ``x`` (B, T, D) after a cache of
        ``past_key``/``past_value`` (B, H, P, D/H). Returns (output, present_key,
        present_value), the presents holding all P + T positions."""
        k = self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        if (past_key is None) != (past_value is None):
            raise FrameworkError("self_attend_cached: give both past_key and past_value or neither")
        if past_key is not None and past_value is not None:
            k = concat([past_key, k], axis=2)
            v = concat([past_value, v], axis=2)
        q = self._heads(self.q_proj(x))
        # one new position sees every cached one: the causal mask is all True, so skip it
        causal = x.shape[1] > 1
        return self._merge(F.scaled_dot_product_attention(q, k, v, causal=causal)), k, v

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"
