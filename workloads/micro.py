"""Small models and microbenchmarks: an MLP, and single-op graphs (GEMM, convolution,
elementwise, softmax, layer norm) for measuring one kernel at a time. Batch is the leading
dimension of every input."""

from __future__ import annotations

import numpy as np

from framework import Tensor, TensorType, nn
from framework.nn import functional as F
from framework.ops import OpCode
from framework.tensor import binary

from .common import Model, make_model, require


class MLP(nn.Module):
    """``layers`` Linear layers (ReLU between them): in -> hidden ... hidden -> out."""

    def __init__(self, features: int, hidden: int, layers: int, out: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        widths = [features] + [hidden] * (layers - 1) + [out]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(widths[i], widths[i + 1], rng=rng))
            if i < layers - 1:
                mods.append(nn.ReLU())
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        """Logits."""
        return self.net(x)


def mlp(batch: int, features: int, hidden: int, layers: int, out: int, dtype: str,
        seed: int) -> Model:
    """MLP on (batch, features) inputs."""
    require(layers >= 1, "mlp", f"layers must be >= 1, got {layers}")
    model = MLP(features, hidden, layers, out, np.random.default_rng(seed))
    return make_model(model, "mlp", {"x": TensorType((batch, features), dtype)}, dtype,
                       ["logits"])


class _Fn(nn.Module):
    """A module around a function of the inputs and fixed weights (for microbenchmarks)."""

    def __init__(self, fn: object, **weights: nn.Parameter) -> None:
        super().__init__()
        self.fn = fn
        for name, w in weights.items():
            setattr(self, name, w)

    def forward(self, **inputs: Tensor) -> Tensor:
        """fn(self, **inputs)."""
        return self.fn(self, **inputs)  # type: ignore[operator]


def gemm(batch: int, m: int, n: int, k: int, dtype: str, seed: int) -> Model:
    """(batch, m, k) @ (k, n): both operands are graph inputs ``a`` and ``b``."""
    require(min(m, n, k) >= 1, "gemm", f"m, n, k must be >= 1, got {m}, {n}, {k}")
    inputs = {"a": TensorType((batch, m, k), dtype), "b": TensorType((k, n), dtype)}
    return make_model(_Fn(lambda _, a, b: a @ b), "gemm", inputs, dtype, ["c"])


def conv(batch: int, n: int, c: int, h: int, w: int, k: int, r: int, s: int, stride: int,
         pad: int, dtype: str, seed: int) -> Model:
    """One convolution layer: input (batch * n, c, h, w), weight (k, c, r, s), no bias."""
    rng = np.random.default_rng(seed)
    weight = nn.init.kaiming_normal(rng, (k, c, r, s), c * r * s)
    module = _Fn(lambda self, x: F.conv2d(x, self.weight, None, stride, pad), weight=weight)
    inputs = {"x": TensorType((batch * n, c, h, w), dtype)}
    return make_model(module, "conv", inputs, dtype, ["y"])


UNARY = {"relu": OpCode.RELU, "gelu": OpCode.GELU, "sigmoid": OpCode.SIGMOID,
         "tanh": OpCode.TANH, "exp": OpCode.EXP, "silu": OpCode.SILU, "sqrt": OpCode.SQRT}
BINARY = {"add": OpCode.ADD, "sub": OpCode.SUB, "mul": OpCode.MUL, "div": OpCode.DIV,
          "maximum": OpCode.MAXIMUM}


def elementwise(batch: int, n: int, op: str, dtype: str, seed: int) -> Model:
    """One elementwise op over (batch, n): binary ops take inputs ``x`` and ``y``."""
    require(op in UNARY or op in BINARY, "elementwise",
            f"op must be one of {sorted(UNARY) + sorted(BINARY)}, got {op!r}")
    shape = TensorType((batch, n), dtype)
    if op in BINARY:
        code = BINARY[op]
        return make_model(_Fn(lambda _, x, y: binary(code, x, y)), f"elementwise_{op}",
                           {"x": shape, "y": shape}, dtype, ["z"])
    fns = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu, "sigmoid": Tensor.sigmoid,
           "tanh": Tensor.tanh, "exp": Tensor.exp, "sqrt": Tensor.sqrt}
    fn = fns[op]
    return make_model(_Fn(lambda _, x: fn(x)), f"elementwise_{op}", {"x": shape}, dtype, ["z"])


def softmax(batch: int, rows: int, cols: int, dtype: str, seed: int) -> Model:
    """Softmax over the last dim of (batch, rows, cols)."""
    return make_model(_Fn(lambda _, x: x.softmax(-1)), "softmax",
                       {"x": TensorType((batch, rows, cols), dtype)}, dtype, ["y"])


def layernorm(batch: int, rows: int, cols: int, dtype: str, seed: int) -> Model:
    """LayerNorm over the last dim of (batch, rows, cols), with scale and shift weights."""
    ln = nn.LayerNorm(cols)
    rng = np.random.default_rng(seed)
    ln.weight.assign(1.0 + 0.1 * rng.standard_normal(cols))
    ln.bias.assign(0.1 * rng.standard_normal(cols))
    return make_model(ln, "layernorm", {"x": TensorType((batch, rows, cols), dtype)}, dtype,
                       ["y"])


MLP_DEFAULTS = {"features": 784, "hidden": 1024, "layers": 3, "out": 10}
GEMM_DEFAULTS = {"m": 1024, "n": 1024, "k": 1024}
CONV_DEFAULTS = {"n": 1, "c": 64, "h": 56, "w": 56, "k": 64, "r": 3, "s": 3, "stride": 1, "pad": 1}
ELEMENTWISE_DEFAULTS = {"n": 1048576, "op": "add"}
SOFTMAX_DEFAULTS = {"rows": 1024, "cols": 1024}
LAYERNORM_DEFAULTS = {"rows": 1024, "cols": 1024}
