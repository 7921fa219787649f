"""ViT-Tiny/16 (Dosovitskiy et al. 2021; the "Ti" size of Touvron et al. 2021, DeiT): 16x16
patches, width 192, 12 pre-LN layers of 3 heads, class token; timm's vit_tiny_patch16_224 has
5,717,416 parameters at 1000 classes."""

from __future__ import annotations

import numpy as np

from framework import Tensor, nn
from framework.nn import init
from framework.tensor import concat

from .common import Model, image_input, make_model, require
from .transformer import Block

LN_EPS = 1e-6  # timm VisionTransformer norm_layer eps


class ViT(nn.Module):
    """Patch embedding (strided conv), class token, learned positions, encoder, head."""

    def __init__(self, image: int, patch: int, dim: int, depth: int, heads: int,
                 mlp_ratio: int, classes: int, rng: np.random.Generator) -> None:
        super().__init__()
        tokens = (image // patch) ** 2 + 1
        self.patch_embed = nn.Conv2d(3, dim, patch, rng=rng, stride=patch)
        self.cls_token = init.normal(rng, (1, 1, dim), 0.02)
        self.pos_embed = init.normal(rng, (1, tokens, dim), 0.02)
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio * dim, pre_norm=True, eps=LN_EPS, approximate="none",
                  rng=rng) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, LN_EPS)
        self.head = nn.Linear(dim, classes, rng=rng)

    def forward(self, image: Tensor) -> Tensor:
        """Class logits from the class token."""
        x = self.patch_embed(image).flatten(2).transpose(1, 2)  # (B, patches, dim)
        cls = self.cls_token.expand(x.shape[0], 1, x.shape[2])
        x = concat([cls, x], axis=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def vit_tiny(batch: int, image: int, patch: int, dim: int, depth: int, heads: int,
             mlp_ratio: int, classes: int, dtype: str, seed: int) -> Model:
    """ViT at ``image`` x ``image`` (a multiple of ``patch``)."""
    require(image % patch == 0, "vit_tiny", f"image {image} is not a multiple of patch {patch}")
    require(dim % heads == 0, "vit_tiny", f"dim {dim} not divisible by heads {heads}")
    model = ViT(image, patch, dim, depth, heads, mlp_ratio, classes, np.random.default_rng(seed))
    return make_model(model, "vit_tiny", image_input(batch, 3, image, dtype), dtype, ["logits"])


VIT_DEFAULTS = {"image": 224, "patch": 16, "dim": 192, "depth": 12, "heads": 3, "mlp_ratio": 4,
                "classes": 1000}
