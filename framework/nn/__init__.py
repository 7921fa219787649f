"""framework.nn: Module-style layers over the eager `Tensor`, traceable to a Graph.

Layers with parameters take a keyword-only ``rng: np.random.Generator`` so initialisation is
deterministic and explicit. ``functional`` holds the stateless forms (``F``).
"""

from . import functional, init
from .activation import (
    ELU,
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    LeakyReLU,
    MaxPool2d,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from .attention import MultiHeadAttention
from .layers import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
)
from .module import Buffer, Module, ModuleList, Parameter, Sequential

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm2d",
    "Buffer",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MultiHeadAttention",
    "Parameter",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
