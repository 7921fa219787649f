"""BERT-base encoder (Devlin et al. 2019) in Hugging Face's BertModel layout: embeddings
(word, position, token type), 12 post-LN layers, pooler. 109,482,240 parameters at
vocab 30522, hidden 768, 12 layers ("110 M" in the paper, table 1 footnote)."""

from __future__ import annotations

import numpy as np

from framework import Tensor, TensorType, nn

from .common import Model, make_model, require
from .transformer import Block

LN_EPS = 1e-12  # BertConfig.layer_norm_eps


class BertEmbeddings(nn.Module):
    """word + position + token-type embeddings, then LayerNorm (all tokens of segment 0)."""

    def __init__(self, vocab: int, hidden: int, max_positions: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, hidden, rng=rng, std=0.02)
        self.position = nn.Embedding(max_positions, hidden, rng=rng, std=0.02)
        self.token_type = nn.Embedding(2, hidden, rng=rng, std=0.02)
        self.ln = nn.LayerNorm(hidden, LN_EPS)

    def forward(self, input_ids: Tensor) -> Tensor:
        """(B, T) ids -> (B, T, hidden)."""
        seq = input_ids.shape[1]
        x = self.word(input_ids) + self.position.weight[:seq] + self.token_type.weight[0]
        return self.ln(x)


class Bert(nn.Module):
    """Embeddings, post-LN encoder layers (exact GELU), and the tanh pooler on token 0."""

    def __init__(self, vocab: int, hidden: int, layers: int, heads: int, intermediate: int,
                 max_positions: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, hidden, max_positions, rng)
        self.encoder = nn.ModuleList(
            Block(hidden, heads, intermediate, pre_norm=False, eps=LN_EPS, approximate="none",
                  rng=rng) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden, rng=rng)

    def forward(self, input_ids: Tensor) -> dict[str, Tensor]:
        """Last hidden states (B, T, hidden) and the pooled output (B, hidden)."""
        x = self.embeddings(input_ids)
        for layer in self.encoder:
            x = layer(x)
        return {"last_hidden_state": x, "pooler_output": self.pooler(x[:, 0]).tanh()}


def bert_base(batch: int, seq: int, layers: int, hidden: int, heads: int, intermediate: int,
              vocab: int, max_positions: int, dtype: str, seed: int) -> Model:
    """BERT encoder over ``seq`` tokens (input ``input_ids``: int64 (batch, seq))."""
    require(1 <= seq <= max_positions, "bert_base",
            f"seq must be in 1..max_positions={max_positions}, got {seq}")
    model = Bert(vocab, hidden, layers, heads, intermediate, max_positions,
                 np.random.default_rng(seed))
    return make_model(model, "bert_base", {"input_ids": TensorType((batch, seq), "int64")},
                      dtype, id_limit=vocab)


BERT_DEFAULTS = {"seq": 128, "layers": 12, "hidden": 768, "heads": 12, "intermediate": 3072,
                 "vocab": 30522, "max_positions": 512}
